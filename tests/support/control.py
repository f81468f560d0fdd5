"""What the control-plane tests share: an emulator over a small world, and calls.

:func:`serving` wires the app in-process (:func:`support.app.build_app`) the way
``taskcancel serve --clock fake --world ... FLAGS`` does and calls it through
``Emulator.handle`` (the unit tier); :func:`serving_process` starts the real
``taskcancel serve --port 0`` as a subprocess and calls it over HTTP (the e2e tier).
Both yield a :class:`Served`: the control plane (:meth:`Served.control`,
:meth:`Served.ok`, :meth:`Served.refused`) and signed ECS calls (:meth:`Served.ecs`,
:meth:`Served.cancel`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from support.app import HOST, AppTransport, build_app
from support.serve import ServedEmulator, start_serve, stop_serve, write_world
from taskcancel import wire
from taskcancel.testing import FakeClock

KEY = ("testid", "testsecret")
OTHER = ("other", "othersecret")
HZ, SH = "cn-hangzhou", "cn-shanghai"
START = "2026-01-01T00:00:00Z"  # where `--clock fake` starts
WEIRD = "t-a b/c%\u00e9"  # a task id every URL layer encodes
BURST = [f"t-burst-{n:03d}" for n in range(24)]  # Processing imports, for concurrent cancels
BURST_SCHEDULED = "t-burst-scheduled"  # Processing until START + 600 s, then Finished

#: The control token the access tests start with.
TOKEN = "s3cret-token"

#: Every control route with a body it would accept (a 2xx when the plane is open).
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "state", None),
    ("PUT", "world", {"Regions": [HZ], "Tasks": []}),
    ("POST", "reset", None),
    ("POST", "tasks", {"Tasks": []}),
    ("PATCH", "tasks/cn-hangzhou/t-run", {"CancelFails": False}),
    ("PUT", "faults", {}),
    ("POST", "clock", {"AdvanceSeconds": 1}),
    ("GET", "no-such-route", None),
]

_NO_BODY: Any = object()


def world_file() -> dict[str, Any]:
    """The world every served emulator here starts with (written out, not computed)."""

    def task(task_id: str, action: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "TaskId": task_id,
            "RegionId": HZ,
            "TaskAction": action,
            "TaskStatus": status,
            **extra,
        }

    return {
        "Regions": [HZ, SH],
        "Accounts": [
            {"AccessKeyId": KEY[0], "AccessKeySecret": KEY[1]},
            {"AccessKeyId": OTHER[0], "AccessKeySecret": OTHER[1]},
        ],
        "Tasks": [
            task("t-run", "ImportImage", "Processing", CreationTime="2025-12-31T23:00Z"),
            task("t-export", "ExportImage", "Processing", TaskProcess="40%"),
            task(
                "t-done",
                "ImportImage",
                "Finished",
                CreationTime="2025-12-31T22:00Z",
                FinishedTime="2025-12-31T22:30:15Z",
            ),
            task(
                "t-sched",
                "ExportImage",
                "Waiting",
                CreationTime="2026-01-01T00:00Z",
                Schedule={"QueuedSeconds": 60, "ProcessingSeconds": 600, "Outcome": "Finished"},
            ),
            task("t-fails", "ImportImage", "Processing", CancelFails=True),
            task(WEIRD, "ImportImage", "Processing"),
            {**task("t-theirs", "ImportImage", "Processing", AccessKeyId=OTHER[0]), "RegionId": SH},
            *(task(task_id, "ImportImage", "Processing") for task_id in BURST),
            task(
                BURST_SCHEDULED,
                "ImportImage",
                "Processing",
                CreationTime="2026-01-01T00:00Z",
                Schedule={"ProcessingSeconds": 600},
            ),
        ],
    }


@dataclass
class Served:
    """An emulator called over HTTP: in-process (``process`` None) or a real ``serve``."""

    http: httpx.Client
    token: str | None = None
    store: str = "memory"  # or "sqlite" (started with --store)
    process: ServedEmulator | None = None

    @property
    def served(self) -> ServedEmulator:
        """The ``taskcancel serve`` process (only under :func:`serving_process`)."""
        assert self.process is not None, "an in-process emulator has no process"
        return self.process

    @property
    def endpoint(self) -> str:
        return str(self.http.base_url).rstrip("/")

    @property
    def netloc(self) -> str:
        return self.http.base_url.netloc.decode()

    def fork(self) -> Served:
        """Another caller of the same emulator, with its own client (for threads)."""
        transport = self.http._transport
        if isinstance(transport, AppTransport):
            http = httpx.Client(base_url=self.http.base_url, transport=transport, trust_env=False)
        else:
            http = httpx.Client(base_url=self.http.base_url, trust_env=False, timeout=30)
        return Served(http, self.token, self.store, self.process)

    # -- the control plane -------------------------------------------------------------

    def control(
        self,
        method: str,
        route: str,
        body: Any = _NO_BODY,
        *,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """``METHOD /_taskcancel/ROUTE`` with ``body`` as JSON (or ``raw`` bytes)."""
        sent = dict(headers) if headers is not None else {}
        if headers is None and self.token is not None:
            sent["Authorization"] = f"Bearer {self.token}"
        if raw is None and body is not _NO_BODY:
            return self.http.request(method, f"/_taskcancel/{route}", json=body, headers=sent)
        if raw:
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(method, f"/_taskcancel/{route}", content=raw, headers=sent)

    def ok(self, method: str, route: str, body: Any = _NO_BODY, *, status: int = 200) -> Any:
        """The JSON answer of a control call that must succeed with ``status``."""
        response = self.control(method, route, body)
        assert response.status_code == status, (response.status_code, response.text)
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        return response.json()

    def refused(
        self,
        method: str,
        route: str,
        body: Any = _NO_BODY,
        *,
        status: int,
        raw: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        """The ``{"Code", "Message"}`` error of a control call refused with ``status``."""
        response = self.control(method, route, body, raw=raw, headers=headers)
        assert response.status_code == status, (response.status_code, response.text)
        assert response.headers["content-type"] == "application/json;charset=utf-8"
        error = response.json()
        assert set(error) == {"Code", "Message"}, error
        assert isinstance(error["Code"], str) and isinstance(error["Message"], str)
        return dict(error)

    def state(self) -> dict[str, Any]:
        return dict(self.ok("GET", "state"))

    # -- the ECS path (signed) ---------------------------------------------------------

    def signed(
        self,
        action: str,
        params: Mapping[str, str],
        *,
        key: tuple[str, str] = KEY,
        scheme: str = "acs3",
        nonce: str | None = None,
    ) -> wire.OutgoingRequest:
        options: dict[str, Any] = {
            "access_key_id": key[0],
            "secret": key[1],
            "nonce": nonce or uuid.uuid4().hex,
            "timestamp": datetime.now(UTC),  # the gateway checks against the real clock
        }
        if scheme == "v1":
            return wire.v1.build_request(action, params, **options)
        return wire.acs3.build_request(action, params, host=self.netloc, **options)

    def send(self, out: wire.OutgoingRequest) -> httpx.Response:
        return self.http.request(
            out.method, out.target, headers=list(out.headers), content=out.body
        )

    def ecs(self, action: str, params: Mapping[str, str], **options: Any) -> httpx.Response:
        return self.send(self.signed(action, params, **options))

    def cancel(self, region_id: str, task_id: str, **options: Any) -> str:
        """``OK`` or the error code of a signed CancelTask."""
        response = self.ecs("CancelTask", {"RegionId": region_id, "TaskId": task_id}, **options)
        return code_of(response)

    def status(self, region_id: str, task_id: str, **options: Any) -> str:
        """A task's ``TaskStatus`` through DescribeTaskAttribute, or the error code."""
        params = {"RegionId": region_id, "TaskId": task_id}
        response = self.ecs("DescribeTaskAttribute", params, **options)
        if response.status_code != 200:
            return code_of(response)
        return str(response.json()["TaskStatus"])


def code_of(response: httpx.Response) -> str:
    """``OK`` for a 200, else the Aliyun error envelope's code (a 5xx fails the test)."""
    assert response.status_code < 500, (response.status_code, response.text)
    if response.status_code == 200:
        return "OK"
    return str(response.json()["Code"])


_START = datetime(2026, 1, 1, tzinfo=UTC)  # START as a datetime


@contextmanager
def serving(
    directory: Path,
    *flags: str,
    world: dict[str, Any] | None = None,
    token: str | None = None,
    clock: str = "fake",
) -> Iterator[Served]:
    """The app as ``taskcancel serve --clock CLOCK --world W FLAGS...`` wires it, in-process.

    ``FLAGS`` may be ``--store FILE``, ``--control-token T`` and ``--no-control``.
    """
    options = list(flags)
    store_path: Path | None = None
    control_token: str | None = None
    control = True
    while options:
        flag = options.pop(0)
        if flag == "--store":
            store_path = Path(options.pop(0))
        elif flag == "--control-token":
            control_token = options.pop(0)
        elif flag == "--no-control":
            control = False
        else:
            raise ValueError(f"serving(): {flag!r} needs a real process: use serving_process")
    directory.mkdir(parents=True, exist_ok=True)
    fake = FakeClock(_START) if clock == "fake" else None
    emulator = build_app(
        world if world is not None else world_file(),
        clock=fake,
        store_path=store_path,
        control=control,
        token=control_token,
    )
    try:
        with emulator.client(host=HOST) as http:
            yield Served(http, token, "sqlite" if store_path is not None else "memory")
    finally:
        emulator.close()


@contextmanager
def serving_process(
    directory: Path,
    *flags: str,
    world: dict[str, Any] | None = None,
    token: str | None = None,
    clock: str = "fake",
) -> Iterator[Served]:
    """``taskcancel serve --port 0 --clock CLOCK --world W FLAGS...``, stopped afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    path = write_world(directory / "world.json", world if world is not None else world_file())
    args = ["--port", "0", "--clock", clock, "--world", str(path), "--log-level", "warning"]
    served = start_serve([*args, *flags], log_path=directory / "serve.log")
    try:
        with httpx.Client(base_url=served.endpoint, trust_env=False, timeout=30) as http:
            yield Served(http, token, "sqlite" if "--store" in flags else "memory", served)
    finally:
        stop_serve(served.process)
