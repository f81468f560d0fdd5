"""The emulator's server: a sans-IO app, the connection layer it runs under, the control plane.

::

    _request      RawRequest, Answer, Pending: what crosses between the layers below
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
    _asgi         the same Emulator as an ASGI app, for embedding
    _log          RequestLog: one cheap line per request, text or JSON
    _logging      the other lines (start, stop, errors) through logging, same format
    _writer       ThreadedWriter: log text that never blocks the loop

``taskcancel serve`` and :class:`~taskcancel.testing.EmulatorServer` run the same
:class:`Server` over the same :class:`Emulator`.
"""

from __future__ import annotations

from typing import Any

from .._store import Store, TaskChanges
from ._app import Emulator
from ._control import ControlPlane
from ._journal import DEFAULT_JOURNAL_SIZE, Journal, JournalFile
from ._log import RequestLog
from ._net import is_loopback
from ._nonces import NonceRegistry
from ._operations import Operations
from ._request import Answer, RawRequest
from ._run import (
    DEFAULT_KEEP_ALIVE,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SHUTDOWN_TIMEOUT,
    BackgroundServer,
    Server,
    bind_socket,
    run,
)

__all__ = [
    "DEFAULT_JOURNAL_SIZE",
    "DEFAULT_KEEP_ALIVE",
    "DEFAULT_MAX_CONNECTIONS",
    "DEFAULT_REQUEST_TIMEOUT",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "Answer",
    "BackgroundServer",
    "ControlPlane",
    "Emulator",
    "Journal",
    "JournalFile",
    "NonceRegistry",
    "Operations",
    "RawRequest",
    "RequestLog",
    "Server",
    "TaskChanges",
    "bind_socket",
    "create_app",
    "is_loopback",
    "run",
]


def create_app(store: Store, **options: Any) -> Emulator:
    """The emulator over ``store`` (also an ASGI app); options as :class:`Emulator`."""
    return Emulator(store, **options)
