"""Log text written by a thread of its own: a stream that stops draining never stops the server.

``taskcancel serve 2>&1 | less`` (paused), a harness that reads only stdout, a stalled log
shipper: a pipe nobody reads fills up (64 KiB), and a ``write`` to it blocks. Written on
the event loop, that froze every connection and even SIGTERM. :class:`ThreadedWriter`
takes text without ever blocking (:meth:`put`) and writes it from a daemon thread. While
the stream does not drain, at most ``max_pending`` chunks wait; past that, text is dropped
and counted, and one line saying how many lines were dropped is written once the stream
drains again. :meth:`close` writes what waits (bounded by a timeout), so a clean stop
loses nothing a working stream could take.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import TextIO

__all__ = ["ThreadedWriter"]

_CLOSE = ""  # put by close(): no log text is empty


def _plain_notice(dropped: int) -> str:
    return f"taskcancel: {dropped} log lines dropped: the log stream did not drain\n"


class ThreadedWriter:
    """``put(text)`` now, written to ``stream`` soon, in order."""

    def __init__(
        self,
        stream: TextIO,
        *,
        max_pending: int = 4096,
        notice: Callable[[int], str] | None = None,
    ) -> None:
        self.stream = stream
        #: The line saying that ``n`` lines were dropped (in the log's own format).
        self._notice = notice or _plain_notice
        self.dropped = 0  # lines dropped while the stream did not drain
        self._queue: queue.Queue[str] = queue.Queue(max_pending)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="taskcancel-log", daemon=True)
        self._thread.start()

    def put(self, text: str) -> None:
        """Queue ``text`` (whole lines); never blocks. Dropped when too much waits."""
        if not text:
            return
        try:
            self._queue.put_nowait(text)
        except queue.Full:
            with self._lock:
                self.dropped += text.count("\n") or 1

    def _run(self) -> None:
        while (text := self._queue.get()) != _CLOSE:
            with self._lock:
                dropped, self.dropped = self.dropped, 0
            if dropped:
                text = self._notice(dropped) + text
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # the stream is gone (a closed pipe): drop it
                pass

    def close(self, timeout: float = 5.0) -> None:
        """Write what waits (for at most ``timeout`` seconds), then stop the thread."""
        try:
            self._queue.put(_CLOSE, timeout=timeout)
        except queue.Full:
            return  # the stream has not drained for a while: give up on it
        self._thread.join(timeout)
