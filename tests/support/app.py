"""The app in-process, for the unit tier: built once here, called through ``Emulator.handle``.

:func:`build_app` is the ONE place the tests make an in-process emulator: it calls
:func:`taskcancel.server.build` with :class:`Settings` as ``taskcancel serve`` does, so
when the composition root changes only this function changes.
:class:`AppTransport` lets an ``httpx.Client`` talk to the app with no socket: each
request becomes one :class:`RawRequest`, each :class:`Answer` one ``httpx.Response``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskcancel import MemoryStore, SqliteStore, Store, __version__
from taskcancel.server import (
    Answer,
    Deferred,
    Emulator,
    Operations,
    RawRequest,
    Settings,
    build,
)
from taskcancel.testing import FakeClock
from taskcancel.worldfile import WorldSpec, parse_world

__all__ = [
    "HOST",
    "AppTransport",
    "InProcess",
    "WireFaultRaised",
    "answer_of",
    "build_app",
    "settle",
]

#: The Host the in-process client sends (what an SDK signs for ``http://HOST``).
HOST = "127.0.0.1:8080"


@dataclass
class InProcess:
    """An app wired by :func:`taskcancel.server.build` as ``serve`` wires it, not listening."""

    app: Emulator
    ops: Operations
    store: Store
    clock: FakeClock | None

    #: Where an SDK would send its calls (what it signs for); nothing listens there.
    endpoint = f"http://{HOST}"

    def handle(self, request: RawRequest) -> Answer:
        return settle(self.app.handle(request))

    def exchange(self, data: bytes) -> Answer:
        """The answer to one HTTP/1.1 request written out in bytes (head and body)."""
        return self.handle(parse_request_bytes(data))

    def __enter__(self) -> InProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def client(self, *, host: str = HOST) -> httpx.Client:
        """An ``httpx.Client`` whose requests go to ``Emulator.handle``."""
        return httpx.Client(
            base_url=f"http://{host}", transport=AppTransport(self.app), trust_env=False
        )

    def close(self) -> None:
        self.store.close()


def build_app(
    world: WorldSpec | Mapping[str, Any] | None = None,
    *,
    clock: FakeClock | None = None,
    store_path: Path | None = None,
    store: Store | None = None,
    control: bool = True,
    token: str | None = None,
    accounts: Mapping[str, str] | None = None,
    request_ids: Callable[[], str] | None = None,
    **settings: Any,
) -> InProcess:
    """The app, operations and control plane over ``world`` (a world file's JSON or a spec).

    Like ``taskcancel serve [--store FILE] [--control-token T | --no-control]`` on a
    loopback address: ``control=False`` answers the control plane's routes as a disabled
    plane does. ``store`` serves a store made by the caller (the world's tasks are not
    added to it). ``settings`` are :class:`Settings` fields (profile, limits, debug, ...).
    """
    if isinstance(world, WorldSpec):
        spec = world
    else:
        now = clock() if clock is not None else None
        spec = parse_world(dict(world or {}), now=now)
    known = dict(spec.accounts)
    known.update(accounts or {})
    if store is not None:
        pass
    elif store_path is not None:
        store = SqliteStore(store_path, spec.tasks, regions=spec.regions, clock=clock)
    else:
        store = MemoryStore(spec.tasks, regions=spec.regions, clock=clock)
    options = Settings(
        control=None if control else False,
        control_token=token,
        version=__version__,
        **settings,
    )
    start = WorldSpec(regions=spec.regions, accounts=known, tasks=(), faults=spec.faults)
    built = build(options, store, start, loopback=True, fake_clock=clock, request_ids=request_ids)
    return InProcess(built.app, built.ops, store, clock)


def parse_request_bytes(data: bytes) -> RawRequest:
    """The :class:`RawRequest` for a well-framed HTTP/1.1 request given as bytes.

    For tests that write requests by hand: the framing is assumed good (what a broken
    framing gets is the connection layer's business, tested in tests/e2e/).
    """
    head, separator, body = data.partition(b"\r\n\r\n")
    assert separator, f"no end of head in {data[:80]!r}"
    request_line, *lines = head.split(b"\r\n")
    method, target, version = request_line.split(b" ")
    headers = []
    for line in lines:
        name, colon, value = line.partition(b":")
        assert colon, f"not a header line: {line!r}"
        headers.append((name.strip().lower(), value.strip()))
    keep_alive = (b"connection", b"close") not in headers
    http_version = version.removeprefix(b"HTTP/").decode()
    return RawRequest(
        method.decode(), target, headers, body, keep_alive=keep_alive, http_version=http_version
    )


def settle(answer: Answer | Deferred) -> Answer:
    """The answer now, or for a :class:`Deferred` (a long-poll) once it is ready.

    Waits on the deferred answer's own wake-ups (an event, never a sleep), at most its
    timeout; then it expires as the connection layer would expire it.
    """
    if isinstance(answer, Answer):
        return answer
    woken = threading.Event()
    unsubscribe = answer.subscribe(woken.set)  # before polling: no wake-up is missed
    try:
        while True:
            woken.clear()
            ready = answer.poll()
            if ready is not None:
                return ready
            if not woken.wait(answer.timeout):
                break
    finally:
        unsubscribe()
    return answer.expire()


class WireFaultRaised(httpx.RemoteProtocolError):
    """The app asked the connection layer to break the connection (a fault rule)."""


def raw_request(request: httpx.Request) -> RawRequest:
    """The :class:`RawRequest` a connection layer would hand the app for ``request``."""
    request.read()
    headers = [(name.lower(), value) for name, value in request.headers.raw]
    target = request.url.raw_path
    return RawRequest(request.method, target, headers, request.content)


def answer_of(answer: Answer, request: httpx.Request) -> httpx.Response:
    """The ``httpx.Response`` for ``answer``; a wire fault (reset, stall...) raises."""
    if answer.fault is not None:
        raise WireFaultRaised(f"wire fault {answer.fault!r}", request=request)
    response = answer.response
    body = b"" if request.method == "HEAD" else response.body
    return httpx.Response(
        response.status,
        headers=list(response.headers),
        content=body,
        request=request,
    )


class AppTransport(httpx.BaseTransport):
    """An httpx transport that answers through ``Emulator.handle`` (no socket)."""

    def __init__(self, app: Emulator) -> None:
        self.app = app
        self.answers: list[Answer] = []  # every answer, for tests that read the log fields
        # A memory store is served from the loop's one thread: callers on several threads
        # take turns, as requests on several connections do there.
        self._serial = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw = raw_request(request)
        if self.app.blocking:
            answer = settle(self.app.handle(raw))
        else:
            with self._serial:
                staged = self.app.handle(raw)
            answer = settle(staged)  # a long-poll waits without holding up other callers
        self.answers.append(answer)
        return answer_of(answer, request)
