"""``taskcancel serve`` writes its log on the loop when stderr is a regular file.

A pipe or a terminal may stop draining, so their lines go through a writer thread
(tests/e2e/test_stalled_log.py); a regular file never does, and a thread contending
for the GIL with a busy loop cost about 9 µs a request. Either way every line arrives.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from taskcancel.testing import ServeProcess, clean_env

HEALTH = b"GET /_taskcancel/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs /proc")


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def test_a_log_file_is_written_without_a_thread(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with ServeProcess(["--port", "0"], log_path=log) as served:
        for _ in range(5):
            with socket.create_connection((served.host, served.port), timeout=10) as sock:
                sock.sendall(HEALTH)
                assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
        assert _threads(served.process.pid) == 1
    assert log.read_text().count("Path=/_taskcancel/health") == 5


def test_a_log_pipe_gets_the_writer_thread() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("listening on "):
                break
        assert _threads(process.pid) == 2
    finally:
        process.terminate()
        process.communicate(timeout=30)
