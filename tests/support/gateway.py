"""The gateway tests' world and their signed requests, for both tiers.

:mod:`tests.unit.server.test_gateway_http` sends them through ``Emulator.handle``;
:mod:`tests.e2e.test_http_framing` over real sockets. Requests are signed for the
world's ``testid`` account unless ``key`` says otherwise, each with a fresh nonce and
the current time (both can be given).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from support.serve import REQUEST_ID
from taskcancel import Task, wire
from taskcancel.worldfile import WorldSpec

__all__ = [
    "ACCOUNTS",
    "FINISHED",
    "FRESH",
    "OTHER_TASK",
    "REGION",
    "acs3",
    "envelope",
    "gateway_world",
    "now",
    "send",
    "v1",
]

REGION = "cn-hangzhou"
ACCOUNTS = {"testid": "testsecret", "other": "othersecret"}
#: Processing tasks of ``testid``, each for one test that cancels.
FRESH = [f"t-http-{n:03d}" for n in range(60)]
#: A Processing task of the ``other`` account.
OTHER_TASK = "t-http-other"
#: A Finished task of ``testid``: cancelling it is always refused, reading it always works.
FINISHED = "t-http-finished"


def gateway_world() -> WorldSpec:
    """Regions cn-hangzhou and cn-shanghai, the two accounts, and the tasks named above."""

    def task(task_id: str, action: str, status: str, owner: str) -> Task:
        return Task(task_id=task_id, region_id=REGION, action=action, status=status, owner=owner)

    tasks = [task(task_id, "ImportImage", "Processing", "testid") for task_id in FRESH]
    tasks.append(task(FINISHED, "ExportImage", "Finished", "testid"))
    tasks.append(task(OTHER_TASK, "ImportImage", "Processing", "other"))
    return WorldSpec(
        regions=frozenset({REGION, "cn-shanghai"}), accounts=dict(ACCOUNTS), tasks=tuple(tasks)
    )


def now() -> datetime:
    return datetime.now(UTC)


def _signing(key: tuple[str, str], options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``key``'s credentials, a fresh nonce and the current time unless
    given."""
    options.setdefault("nonce", uuid.uuid4().hex)
    options.setdefault("timestamp", now())
    return {"access_key_id": key[0], "secret": key[1], **options}


def v1(
    action: str,
    params: Mapping[str, str],
    *,
    key: tuple[str, str] = ("testid", "testsecret"),
    **options: Any,
) -> wire.OutgoingRequest:
    """A V1-signed call (query string)."""
    return wire.v1.build_request(action, params, **_signing(key, options))


def acs3(
    host: str,
    action: str,
    params: Mapping[str, str],
    *,
    key: tuple[str, str] = ("testid", "testsecret"),
    **options: Any,
) -> wire.OutgoingRequest:
    """An ACS3-signed call to ``host`` (the ``Host`` header is part of what is signed)."""
    return wire.acs3.build_request(action, params, host=host, **_signing(key, options))


def send(http: httpx.Client, out: wire.OutgoingRequest) -> httpx.Response:
    return http.request(out.method, out.target, headers=list(out.headers), content=out.body)


def envelope(response: httpx.Response) -> dict[str, Any]:
    """The JSON error envelope, checked for the fields every Aliyun error carries."""
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    body = response.json()
    assert {"RequestId", "HostId", "Code", "Message"} <= body.keys()
    assert body["RequestId"] == response.headers["x-acs-request-id"]
    assert REQUEST_ID.fullmatch(body["RequestId"])
    return dict(body)
