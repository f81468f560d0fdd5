"""What the ``test_serve_*`` files share: a clean environment, signed calls, log parsing.

Calls are signed with :mod:`taskcancel.wire` (as the official SDKs sign) and sent with
httpx over a real socket, so each test sees the ``RequestId`` the client saw.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from taskcancel import wire
from taskcancel.testing import clean_env

KEY_ID, SECRET = "testid", "testsecret"  # the demo world's account
HANGZHOU = "cn-hangzhou"

_nonces = itertools.count()


def serve_env(**variables: str) -> dict[str, str]:
    """This environment without proxies or any ``TASKCANCEL_*`` variable, plus ``variables``."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("TASKCANCEL_")}
    env.update(variables)
    return env


def run_serve(
    *args: str, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``taskcancel serve ARGS`` run to its end (for a start that must fail, or --help)."""
    return subprocess.run(
        [sys.executable, "-m", "taskcancel.cli", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@dataclass
class Reply:
    status: int
    request_id: str
    body: dict[str, Any]
    request: wire.OutgoingRequest


def call(
    http: httpx.Client,
    endpoint: str,
    action: str,
    params: dict[str, str],
    *,
    scheme: str = "v1",
    key_id: str = KEY_ID,
    secret: str = SECRET,
    security_token: str | None = None,
) -> Reply:
    """One signed ECS call; its status, the ``RequestId`` of the reply, and the body."""
    netloc = endpoint.removeprefix("http://")
    module = wire.v1 if scheme == "v1" else wire.acs3
    request = module.build_request(
        action,
        params,
        host=netloc,
        access_key_id=key_id,
        secret=secret,
        nonce=f"serve-test-{next(_nonces)}-{datetime.now(UTC).timestamp()}",
        timestamp=datetime.now(UTC),
        security_token=security_token,
    )
    reply = http.request(
        request.method,
        endpoint + request.target,
        headers=list(request.headers),
        content=request.body,
    )
    body = reply.json()
    return Reply(reply.status_code, body["RequestId"], body, request)


# --------------------------------------------------------------------- reading the log

_TEXT_REQUEST = re.compile(r"^\S+ INFO request (?P<fields>RequestId=.*)$")
_PAIR = re.compile(r'(?P<key>[A-Za-z]+)=(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^ "=]+))( |$)')


def logfmt(text: str) -> dict[str, str]:
    """``Key=value Key="quoted value" ...`` -> values, quoted ones unescaped; the whole of
    ``text`` must be such pairs."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _PAIR.match(text, position)
        assert match is not None, f"not logfmt at {position}: {text}"
        quoted = match["quoted"]
        value = match["bare"] if quoted is None else codecs.decode(quoted, "unicode_escape")
        assert match["key"] not in fields, text
        fields[match["key"]] = value
        position = match.end()
    return fields


def text_request_lines(log: str) -> dict[str, dict[str, str]]:
    """RequestId -> fields of each text request line."""
    lines: dict[str, dict[str, str]] = {}
    for line in log.splitlines():
        match = _TEXT_REQUEST.match(line)
        if match is None:
            continue
        fields = logfmt(match["fields"])
        assert fields["RequestId"] not in lines, f"two lines for one request: {line}"
        lines[fields["RequestId"]] = fields
    return lines


def json_lines(log: str) -> list[dict[str, Any]]:
    """Every stderr line as the JSON object it must be."""
    objects = []
    for line in log.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        objects.append(value)
    return objects


def json_request_lines(log: str) -> dict[str, dict[str, Any]]:
    lines: dict[str, dict[str, Any]] = {}
    for entry in json_lines(log):
        if entry.get("logger") == "taskcancel.request":
            assert entry["RequestId"] not in lines, f"two lines for one request: {entry}"
            lines[entry["RequestId"]] = entry
    return lines
