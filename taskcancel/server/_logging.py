"""The server's other log lines -- startup, shutdown, errors, asyncio's -- through
``logging``, in the request log's format (:mod:`._log`) and on the same stream, in order:
on the request log's thread a line first flushes the request lines buffered before it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from typing import TextIO

from .._core._text import one_line
from ._log import FORMATS, RequestLog, Stamp

__all__ = ["LineFormatter", "configure", "configured"]


class LineFormatter(logging.Formatter):
    """The server's other log lines in the request log's format, each on one line."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        self.json = fmt == "json"
        self._stamp = Stamp()

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and record.levelno >= logging.ERROR:
            message += "\n" + self.formatException(record.exc_info)
        if self.json:
            entry = {
                "time": self._stamp(),
                "level": record.levelname,
                "logger": record.name,
                "message": message,
            }
            return json.dumps(entry)
        return f"{self._stamp()} {record.levelname} {record.name}: {one_line(message)}"


class _Handler(logging.StreamHandler[TextIO]):
    """A stream handler that first writes the request lines buffered before its record."""

    def __init__(self, stream: TextIO, requests: RequestLog | None) -> None:
        super().__init__(stream)
        self.requests = requests

    def emit(self, record: logging.LogRecord) -> None:
        requests = self.requests
        if requests is not None and threading.get_ident() == requests.thread:
            requests.flush()
        writer = requests.writer if requests is not None else None
        if writer is None:
            super().emit(record)
            return
        try:
            writer.put(self.format(record) + "\n")
        except Exception:  # as logging does: a bad record never breaks the program
            self.handleError(record)


#: The loggers :func:`configure` sends to the stream: ours, and asyncio's (its errors,
#: such as an exception in a callback, would otherwise reach stderr in another format).
_LOGGERS = ("taskcancel", "asyncio")


def configure(
    level: str, fmt: str, stream: TextIO, requests: RequestLog | None = None
) -> logging.Handler:
    """Send the ``taskcancel`` loggers' lines to ``stream`` in ``fmt`` at ``level``, and
    asyncio's (warning and up) too; ``requests`` is the request log on the same stream,
    flushed before each line. For a process that keeps it so; else :func:`configured`."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = _Handler(stream, requests)
    handler.setFormatter(LineFormatter(fmt))
    ours = logging.getLevelName(level.upper())
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(ours if name == "taskcancel" else max(logging.WARNING, ours))
        logger.propagate = False
    return handler


@contextlib.contextmanager
def configured(
    level: str, fmt: str, stream: TextIO, requests: RequestLog | None = None
) -> Iterator[logging.Handler]:
    """:func:`configure` within the block; the loggers are put back as they were after it
    (``serve`` may run inside another program: a test, say)."""
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        yield configure(level, fmt, stream, requests)
    finally:
        for logger, handlers, old_level, propagate in saved:
            logger.handlers[:] = handlers
            logger.setLevel(old_level)
            logger.propagate = propagate
