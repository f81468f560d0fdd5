"""The unit tier's guard: no socket, no subprocess, no server (used by tests/unit/conftest.py)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from typing import Any, NoReturn

import pytest

__all__ = ["NoIOInUnitTests", "forbid_io"]


class NoIOInUnitTests(RuntimeError):
    """A unit test tried to open a socket, start a process or serve on a loop."""


def _refuse(what: str) -> NoReturn:
    raise NoIOInUnitTests(
        f"{what} in the unit tier: unit tests drive Emulator.handle, pure functions or "
        "fake transports; a test that needs a real socket or process belongs in tests/e2e/"
    )


_socket_init = socket.socket.__init__


def _guarded_socket_init(
    self: socket.socket,
    family: Any = -1,
    type: Any = -1,
    proto: int = -1,
    fileno: int | None = None,
) -> None:
    if fileno is None:
        _refuse(f"socket.socket(family={family!r}, type={type!r})")
    _socket_init(self, family, type, proto, fileno)


def _guarded(what: str) -> Any:
    def refuse(*args: object, **kwargs: object) -> NoReturn:
        _refuse(what)

    return refuse


async def _async_guarded_server(*args: object, **kwargs: object) -> NoReturn:
    _refuse("an event loop's create_server/create_connection")


def forbid_io(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make sockets, processes and loop servers raise :class:`NoIOInUnitTests`."""
    monkeypatch.setattr(socket.socket, "__init__", _guarded_socket_init)
    monkeypatch.setattr(socket, "create_connection", _guarded("socket.create_connection"))
    monkeypatch.setattr(socket, "create_server", _guarded("socket.create_server"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _guarded("subprocess.Popen"))
    loop_class = asyncio.base_events.BaseEventLoop
    for name in ("create_server", "create_unix_server", "create_connection"):
        monkeypatch.setattr(loop_class, name, _async_guarded_server)
    try:  # uvloop's loop is a C type: hand out asyncio's (guarded) loop instead
        import uvloop
    except ImportError:
        pass
    else:
        monkeypatch.setattr(uvloop, "new_event_loop", asyncio.new_event_loop)
