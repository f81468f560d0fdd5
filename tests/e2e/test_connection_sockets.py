"""The connection layer over real sockets (a few smoke tests; the behaviour itself is pinned
in tests/unit/server through a fake transport)."""

from __future__ import annotations

import logging
import socket

import pytest

from taskcancel.testing import EmulatorServer

_HEALTH = b"GET /_taskcancel/health HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def _read_until_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_a_request_behind_one_that_closes_is_dropped_without_an_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with EmulatorServer() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_HEALTH + b"Connection: close\r\n\r\n" + _HEALTH + b"\r\nx")
            data = _read_until_eof(sock)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_HEALTH + b"Connection: close\r\n\r\n")
            assert _read_until_eof(sock).startswith(b"HTTP/1.1 ")  # it still serves
    assert data.count(b"HTTP/1.1 ") == 1
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not errors, [r.getMessage() for r in errors]


def test_stopping_closes_an_idle_keep_alive_connection_with_a_clean_eof() -> None:
    server = EmulatorServer().start()
    try:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(_HEALTH + b"\r\n")
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
    finally:
        server.stop()
    with sock:
        assert _read_until_eof(sock) == b""  # EOF, not a reset and not a hang


def test_a_tls_client_hello_is_told_and_the_server_keeps_serving(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    with EmulatorServer() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + bytes(160))
            data = _read_until_eof(sock)
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(_HEALTH + b"Connection: close\r\n\r\n")
            assert _read_until_eof(sock).startswith(b"HTTP/1.1 200 ")
    assert data.startswith(b"HTTP/1.1 400 ")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["TLS handshake on a plain-HTTP port: set protocol HTTP in the SDK config"]
