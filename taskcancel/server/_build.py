"""``build``: the one place that makes an emulator's parts and wires them together.

``taskcancel serve``, :class:`~taskcancel.testing.EmulatorServer` and every benchmark call
it; nothing else constructs an :class:`Emulator`, :class:`Operations`,
:class:`ControlPlane` or :class:`Server`. What it takes: the options (:class:`Settings`),
the store to serve and the world the server starts from (accounts, faults, and the tasks a
reset puts back into a store it was given), and the clocks.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from .._store import Clock, Store, system_clock
from .._store._clock import FakeClock
from ..worldfile import WorldSpec
from ._app import Emulator
from ._asgi import AsgiApp
from ._control import ControlPlane
from ._journal import Journal, JournalFile
from ._log import RequestLog
from ._operations import Operations
from ._run import Server
from ._settings import Settings
from ._world import LiveWorld, WorldState

__all__ = ["Built", "build"]


@attrs.frozen
class Built:
    """An emulator's parts: serve ``server``; change the world through ``ops``."""

    app: Emulator
    ops: Operations
    control: ControlPlane
    server: Server
    #: The request journal; :meth:`close` it after serving (its file, if any, is flushed).
    journal: Journal

    def asgi(self) -> AsgiApp:
        """The same app as an ASGI application, for embedding."""
        return AsgiApp(self.app)


def build(
    settings: Settings,
    store: Store,
    start: WorldSpec,
    *,
    loopback: bool = True,
    fake_clock: FakeClock | None = None,
    gateway_clock: Clock | None = None,
    log: RequestLog | None = None,
    request_ids: Callable[[], str] | None = None,
    chance: Callable[[], float] | None = None,
) -> Built:
    """The emulator serving ``store``, starting from ``start``'s accounts and faults.

    ``start.tasks`` are the tasks a reset puts back (those added to a store the server was
    given); ``loopback`` says whether it listens on a loopback address (the control plane
    is then open without a token); ``fake_clock`` is the store's clock when the control
    plane may move it; ``gateway_clock`` checks request timestamps (the system clock);
    ``chance`` draws for ``ThrottleRate`` (default: a generator seeded by ``settings.seed``).
    ``settings.journal_file`` is opened here (``OSError`` if it cannot be).
    """
    live = LiveWorld(
        WorldState(store, start.accounts, start.faults),
        timestamp_window=settings.timestamp_window,
        nonce_capacity=settings.nonce_capacity,
        seed=settings.seed,
    )
    sink = JournalFile(settings.journal_file) if settings.journal_file else None
    # The journal stamps entries with the store's clock; under the system clock it reads
    # time.time() instead of building a datetime on every call.
    clock = None if store.clock is system_clock else (lambda: live.current.store.clock())
    journal = Journal(settings.journal_size, clock=clock, sink=sink)
    ops = Operations(live, start, settings, clock=fake_clock, journal=journal)
    control = ControlPlane(
        ops, enabled=settings.control_enabled(loopback=loopback), token=settings.control_token
    )
    app = Emulator(
        settings,
        live,
        control=control,
        clock=gateway_clock,
        request_ids=request_ids,
        chance=chance,
        journal=journal,
    )
    server = Server(
        app,
        limits=settings.limits,
        request_timeout=settings.request_timeout,
        keep_alive=settings.keep_alive,
        max_connections=settings.max_connections,
        shutdown_timeout=settings.shutdown_timeout,
        log=log,
    )
    return Built(app, ops, control, server, journal)
