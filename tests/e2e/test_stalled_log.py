"""A stderr nobody reads (``serve 2>&1 | less``, paused) never stops the server.

Once about 64 KiB of log filled the pipe, a write on the event loop blocked: every
connection froze and SIGTERM went unanswered. Log text now goes through a writer thread
with a bounded backlog; what does not fit is dropped and counted.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time

from taskcancel.server._writer import ThreadedWriter
from taskcancel.testing import clean_env

HEALTH = b"GET /_taskcancel/health HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n"


def test_a_stderr_nobody_reads_neither_freezes_requests_nor_signals() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,  # never read
        stdin=subprocess.DEVNULL,
        text=True,
        env=clean_env(),
    )
    try:
        assert process.stdout is not None
        port = None
        for line in process.stdout:
            match = re.match(r"listening on http://127\.0\.0\.1:(\d+)$", line.strip())
            if match:
                port = int(match.group(1))
                break
        assert port is not None
        for _ in range(700):  # ~120 KB of request lines: twice the pipe's size
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(HEALTH)
                assert sock.recv(64).startswith(b"HTTP/1.1 200 ")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_the_writer_drops_and_counts_what_a_stalled_stream_cannot_take() -> None:
    class Stalled:
        def __init__(self) -> None:
            self.written: list[str] = []
            self.stalled = True

        def write(self, text: str) -> None:
            while self.stalled:  # a pipe nobody reads
                pass
            self.written.append(text)

        def flush(self) -> None: ...

    stream = Stalled()
    writer = ThreadedWriter(stream, max_pending=2)  # type: ignore[arg-type]
    for n in range(10):
        writer.put(f"line {n}\n")  # never blocks
    assert writer.dropped >= 6
    stream.stalled = False
    deadline = time.monotonic() + 10
    while "line 1\n" not in "".join(stream.written) and time.monotonic() < deadline:
        time.sleep(0.001)
    writer.put("after\n")
    writer.close()
    text = "".join(stream.written)
    assert "log lines dropped" in text and text.endswith("after\n")
