"""Logs: one line per request, cheap, in text or JSON; the server's other lines alike.

A request line is formatted at once (fields a client controls are escaped, so no value can
forge or break a line), kept in a buffer, and written once per event-loop iteration in one
``write`` -- never through the ``logging`` module's per-record machinery. :meth:`flush`
writes what is left; the server calls it when it stops, so no line is lost on a clean stop.
Other lines (startup, shutdown, errors) go through ``logging`` with :class:`LineFormatter`,
in the same format and to the same stream.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from typing import TextIO

from ._request import Answer

__all__ = ["FORMATS", "LEVELS", "LineFormatter", "RequestLog", "configure", "escape"]

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
#: Parameters whose values never reach a log.
_SECRET = frozenset(
    {"signature", "accesskeysecret", "securitytoken", "authorization", "x-acs-security-token"}
)
_SAFE = frozenset(map(chr, range(0x21, 0x7F))) - {"\\", '"', "="}


def escape(text: str) -> str:
    """``text`` on one line: printable ASCII as is, anything else as a ``\\x``/``\\u`` escape."""
    if _SAFE.issuperset(text):
        return text
    return text.encode("unicode_escape", "backslashreplace").decode("ascii").replace('"', '\\"')


def redacted(params: Mapping[str, str]) -> dict[str, str]:
    return {k: ("***" if k.lower() in _SECRET else v) for k, v in params.items()}


class _Stamp:
    """``2026-11-29T12:00:00.123Z`` for now, formatting the date part once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self) -> str:
        now = time.time()
        second = int(now)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{int((now - second) * 1000):03d}Z"


class RequestLog:
    """One line per request on ``stream``; ``fmt`` is ``"text"`` or ``"json"``."""

    def __init__(self, stream: TextIO, *, fmt: str = "text", debug: bool = False) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream, self.json, self.debug = stream, fmt == "json", debug
        self._lines: list[str] = []
        self._stamp = _Stamp()
        self._loop: asyncio.AbstractEventLoop | None = None

    def record(self, answer: Answer, seconds: float) -> None:
        line = self._json(answer, seconds) if self.json else self._text(answer, seconds)
        self._lines.append(line)
        if len(self._lines) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no loop (an embedding caller): write now
                self.flush()

    def _text(self, a: Answer, seconds: float) -> str:
        status = a.response.status
        parts = [f"{self._stamp()} INFO request RequestId={a.request_id}"]
        if a.route:
            parts.append(f"Route={escape(a.route)}")
        else:
            parts.append(f"Action={escape(a.action)}")
            if a.region_id:
                parts.append(f"RegionId={escape(a.region_id)}")
            if a.task_id:
                parts.append(f"TaskId={escape(a.task_id)}")
            if a.access_key_id:
                parts.append(f"AccessKeyId={escape(a.access_key_id)}")
        parts.append(f"Code={escape(a.code)} Status={status} LatencyMs={seconds * 1000:.2f}")
        if self.debug and a.params is not None:
            parts.append("Params=" + escape(json.dumps(redacted(a.params), ensure_ascii=False)))
        return " ".join(parts) + "\n"

    def _json(self, a: Answer, seconds: float) -> str:
        entry: dict[str, object] = {
            "time": self._stamp(),
            "level": "INFO",
            "logger": "taskcancel.request",
            "RequestId": a.request_id,
        }
        if a.route:
            entry["Route"] = a.route
        else:
            entry["Action"] = a.action
            if a.region_id:
                entry["RegionId"] = a.region_id
            if a.task_id:
                entry["TaskId"] = a.task_id
            if a.access_key_id:
                entry["AccessKeyId"] = a.access_key_id
        entry["Code"] = a.code
        entry["Status"] = a.response.status
        entry["LatencyMs"] = round(seconds * 1000, 3)
        if self.debug and a.params is not None:
            entry["Params"] = redacted(a.params)
        return json.dumps(entry) + "\n"

    def flush(self) -> None:
        if not self._lines:
            return
        text = "".join(self._lines)
        self._lines.clear()
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the stream is gone (a closed pipe): drop the lines
            pass


class LineFormatter(logging.Formatter):
    """The server's other log lines in the request log's format."""

    def __init__(self, fmt: str = "text") -> None:
        super().__init__()
        self.json = fmt == "json"
        self._stamp = _Stamp()

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
        return f"{self._stamp()} {record.levelname} {record.name}: {escape_lines(message)}"


def escape_lines(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


def configure(level: str, fmt: str, stream: TextIO) -> None:
    """Send the ``taskcancel`` loggers' lines to ``stream`` in ``fmt`` at ``level``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LineFormatter(fmt))
    logger = logging.getLogger("taskcancel")
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
