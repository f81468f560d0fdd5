"""The server's event loop: uvloop's when installed (the server extra), asyncio's otherwise.

Either way the same connection code serves real sockets: here a request over a raw socket
to a server running on each loop.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading

import pytest

from taskcancel import MemoryStore
from taskcancel.server import Server, _loop, bind_socket, create_app


def _serve_once(loop: asyncio.AbstractEventLoop) -> bytes:
    """One health request answered by a Server running on ``loop``; the raw reply."""
    app = create_app(MemoryStore())
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    ready, stop_box = threading.Event(), []

    async def main() -> None:
        stop = asyncio.Event()
        stop_box.append((asyncio.get_running_loop(), stop))
        await Server(app).serve(sock, stop, ready.set)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(b"GET /nowhere HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            reply = b""
            while chunk := client.recv(65536):
                reply += chunk
    finally:
        running, stop = stop_box[0]
        running.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
        sock.close()
    return reply


def test_uvloop_when_installed() -> None:
    uvloop = pytest.importorskip("uvloop")
    loop = _loop.new_event_loop()
    assert isinstance(loop, uvloop.Loop)
    reply = _serve_once(loop)
    assert reply.startswith(b"HTTP/1.1 404 ")
    assert b'"Code":"InvalidAction.NotFound"' in reply


def test_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop raises ImportError
    loop = _loop.new_event_loop()
    assert type(loop).__module__.startswith("asyncio")
    reply = _serve_once(loop)
    assert reply.startswith(b"HTTP/1.1 404 ")
    assert b'"Code":"InvalidAction.NotFound"' in reply
