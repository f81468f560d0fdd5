"""Limits the process itself sets: file descriptors and kernel send buffers."""

from __future__ import annotations

import contextlib
import json
import re
import resource
import signal
import socket
import subprocess
import sys

from taskcancel.server import bind_socket
from taskcancel.server._run import SEND_BUFFER
from taskcancel.testing import clean_env


def test_accepted_connections_get_a_small_send_buffer() -> None:
    with bind_socket() as listener, socket.create_connection(listener.getsockname()) as c:
        accepted, _ = listener.accept()
        with accepted:  # inherited from the listener (Linux doubles the value it is given)
            assert accepted.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) <= 2 * SEND_BUFFER
        assert c


def _limit_files(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))


def test_below_the_file_limit_new_connections_get_503_not_silence() -> None:
    """With 200 files allowed, ``serve`` caps its connections below that: the rest are
    told ``ServiceUnavailable`` (not left unanswered while accept() fails, logging a
    traceback per attempt), and the log stays quiet."""
    process = subprocess.Popen(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
        preexec_fn=lambda: _limit_files(200),
    )
    held: list[socket.socket] = []
    try:
        assert process.stdout is not None
        port = 0
        for line in process.stdout:
            if match := re.match(r"listening on http://127\.0\.0\.1:(\d+)$", line.strip()):
                port = int(match.group(1))
                break
        for _ in range(250):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        refused = held[-1]
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := refused.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 "), data[:200]
        assert json.loads(body)["Code"] == "ServiceUnavailable"
    finally:
        for sock in held:
            sock.close()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "at most 136 connections: the process may open only 200 files" in err
