"""The emulator's server: a sans-IO app, the connection layer it runs under, the control plane.

::

    _settings     Settings: every option, frozen
    _world        WorldState (store, accounts, faults) and LiveWorld (the one in force)
    _build        build(): the one place that makes and wires the parts below
    _request      RawRequest, Answer, Decision, Pending, Deferred: what crosses the layers
    _app          Emulator.handle / stage (sync, sans-IO: parse, gate, act, render)
    _nonces       NonceRegistry: replay protection (state with a lock)
    _gate         WorldGate: one world per request while the control plane changes it
    _operations   Operations: reset, load, add/change tasks, faults, clock, state
    _control      ControlPlane: the /_taskcancel/ routes over Operations
    _journal      Journal: the request journal (every call, why it got its answer)
    _control_body reading and checking the control plane's JSON bodies
    _net          which addresses are loopback
    _connections  ConnectionSet: open connections, shared limits, worker pools
    _protocol     Connection: reads -- HTTP/1.1 on httptools' public parser, budgets
    _responder    answers in arrival order, refusals after them, a lingering close
    _watchdog     a connection's one timer: deadlines, idle keep-alive
    _http11       the bytes of status lines and headers
    _run          Server, run, BackgroundServer; file-descriptor and send-buffer limits
    _signals      SIGINT/SIGTERM: a graceful stop whenever they come
    _loop         uvloop when installed, asyncio's loop otherwise
    _asgi         AsgiApp: the same Emulator as an ASGI app, for embedding
    _log          RequestLog: one cheap line per request, text or JSON
    _logging      the other lines (start, stop, errors) through logging, same format
    _writer       ThreadedWriter: log text that never blocks the loop

``taskcancel serve``, :class:`~taskcancel.testing.EmulatorServer` and the benchmarks all
call :func:`build`, and run the :class:`Server` it makes.
"""

from __future__ import annotations

from .._store import MemoryStore, Store, TaskChanges
from ..worldfile import WorldSpec
from ._app import CONTROL_PREFIX, Emulator
from ._asgi import AsgiApp
from ._build import Built, build
from ._journal import DEFAULT_JOURNAL_SIZE, Journal, JournalFile
from ._log import RequestLog
from ._operations import Operations
from ._request import Answer, Decision, Deferred, Pending, RawRequest
from ._run import BackgroundServer, Server, bind_socket, run
from ._settings import Settings

__all__ = [
    "CONTROL_PREFIX",
    "DEFAULT_JOURNAL_SIZE",
    "Answer",
    "AsgiApp",
    "BackgroundServer",
    "Built",
    "Decision",
    "Deferred",
    "Emulator",
    "Journal",
    "JournalFile",
    "Operations",
    "Pending",
    "RawRequest",
    "RequestLog",
    "Server",
    "Settings",
    "TaskChanges",
    "bind_socket",
    "build",
    "create_app",
    "run",
]


def create_app(store: Store | None = None, settings: Settings | None = None) -> Emulator:
    """An emulator over ``store`` (default: an empty in-memory world) with ``settings``,
    its control plane open as on loopback: :func:`build`'s app, for sans-IO use."""
    store = MemoryStore() if store is None else store
    return build(settings or Settings(), store, WorldSpec(regions=store.regions())).app
