"""The app in-process, for the unit tier: built once here, called through ``Emulator.handle``.

:func:`build_app` is the ONE place the tests construct an :class:`Emulator` with its
:class:`Operations` and :class:`ControlPlane` the way ``taskcancel serve`` wires them:
when the composition root changes (``Settings`` and ``build(...)``), only it changes.
:class:`AppTransport` lets an ``httpx.Client`` talk to the app with no socket: each
request becomes one :class:`RawRequest`, each :class:`Answer` one ``httpx.Response``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from taskcancel import MemoryStore, SqliteStore, Store, __version__
from taskcancel.server import Answer, ControlPlane, Emulator, Operations, RawRequest
from taskcancel.testing import FakeClock
from taskcancel.worldfile import WorldSpec, parse_world

__all__ = ["HOST", "AppTransport", "InProcess", "WireFaultRaised", "answer_of", "build_app"]

#: The Host the in-process client sends (what an SDK signs for ``http://HOST``).
HOST = "127.0.0.1:8080"


@dataclass
class InProcess:
    """An app wired as ``taskcancel serve`` wires it, with nothing listening."""

    app: Emulator
    ops: Operations
    store: Store
    clock: FakeClock | None

    def handle(self, request: RawRequest) -> Answer:
        return self.app.handle(request)

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
    profile: str = "2017",
    debug: bool = False,
    **options: Any,
) -> InProcess:
    """The app, operations and control plane over ``world`` (a world file's JSON or a spec).

    Like ``taskcancel serve [--store FILE] [--control-token T | --no-control]``:
    ``control=False`` answers the control plane's routes as a disabled plane does.
    ``store`` serves a store made by the caller (the world's tasks are not added to it).
    ``options`` go to :class:`Emulator` (limits, policy, request ids, ...).
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
    app = Emulator(store, accounts=known, profile=profile, faults=spec.faults, **options)
    app.debug = debug
    start = WorldSpec(regions=spec.regions, accounts=known, tasks=(), faults=spec.faults)
    ops = Operations(app, start, clock=clock, version=__version__)
    app.control = ControlPlane(ops, enabled=control, token=token).handle
    return InProcess(app, ops, store, clock)


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
            answer = self.app.handle(raw)
        else:
            with self._serial:
                answer = self.app.handle(raw)
        self.answers.append(answer)
        return answer_of(answer, request)
