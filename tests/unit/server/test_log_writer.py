"""ThreadedWriter: log text written from a thread of its own, dropped (and counted) while
the stream does not drain, and the line saying so in the log's own format."""

from __future__ import annotations

import json
import threading

from taskcancel.server._writer import ThreadedWriter


class _Stalled:
    """A stream whose writes block until :meth:`drain` (a pipe nobody reads)."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.go = threading.Event()
        self.entered = threading.Event()

    def write(self, text: str) -> None:
        self.entered.set()
        self.go.wait()
        self.written.append(text)

    def flush(self) -> None: ...


def _stall_then_drain(writer: ThreadedWriter, stream: _Stalled) -> str:
    writer.put("first\n")
    assert stream.entered.wait(10)  # the writer thread is stuck in write()
    for n in range(10):
        writer.put(f"line {n}\n")  # never blocks: past max_pending, dropped
    assert writer.dropped > 0
    stream.go.set()
    writer.close()
    return "".join(stream.written)


def test_the_dropped_lines_notice_is_the_one_given() -> None:
    stream = _Stalled()

    def notice(dropped: int) -> str:
        return json.dumps({"level": "WARNING", "dropped": dropped}) + "\n"

    writer = ThreadedWriter(stream, max_pending=2, notice=notice)  # type: ignore[arg-type]
    text = _stall_then_drain(writer, stream)
    notices = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert len(notices) == 1 and notices[0]["dropped"] > 0
    assert "log lines dropped" not in text  # no plain-text line in a JSON log
    assert text.startswith("first\n") and text.endswith("line 1\n")


def test_without_a_notice_the_dropped_lines_line_is_plain_text() -> None:
    stream = _Stalled()
    writer = ThreadedWriter(stream, max_pending=2)  # type: ignore[arg-type]
    text = _stall_then_drain(writer, stream)
    assert "log lines dropped: the log stream did not drain" in text
