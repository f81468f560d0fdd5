"""The unit tier's guard (tests/unit/conftest.py) refuses sockets, processes and servers."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest
from support.no_io import NoIOInUnitTests


def test_opening_a_socket_is_refused_with_where_the_test_belongs() -> None:
    with pytest.raises(NoIOInUnitTests, match=r"socket\.socket.*tests/e2e/"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def test_connecting_is_refused() -> None:
    with pytest.raises(NoIOInUnitTests, match="create_connection"):
        socket.create_connection(("127.0.0.1", 9))


def test_starting_a_process_is_refused() -> None:
    with pytest.raises(NoIOInUnitTests, match=r"subprocess\.Popen"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


def test_an_event_loop_may_run_but_not_serve() -> None:
    async def serve() -> None:
        await asyncio.get_running_loop().create_server(asyncio.Protocol, "127.0.0.1", 0)

    assert asyncio.run(asyncio.sleep(0, result="ran")) == "ran"  # socketpair() is fine
    with pytest.raises(NoIOInUnitTests, match="create_server"):
        asyncio.run(serve())


def test_the_taskcancel_server_cannot_bind() -> None:
    from taskcancel.server import bind_socket

    with pytest.raises(NoIOInUnitTests):
        bind_socket("127.0.0.1", 0)
