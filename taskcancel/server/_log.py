"""Logs: one line per request, cheap, in text or JSON; the server's other lines alike.

A request's line waits in a buffer (its answer, latency and time) and is formatted and
written at most 20 ms later (or once 512 wait), many lines in one ``write`` -- never
through the ``logging`` module's per-record machinery. Fields a client controls are
escaped, so no value can forge or break a line. :meth:`flush` writes what is left; the
server calls it when it stops, so no line is lost on a clean stop. Other lines (startup,
shutdown, errors, asyncio's) go through ``logging`` (:mod:`._logging`), in the
same format and to the same stream; on the request log's thread they
first flush the request lines buffered before them, so the stream stays in order.

Text lines are ``TIME LEVEL request Key=value ...`` (logfmt): a value with a space,
``"``, ``=``, ``\\`` or anything but printable ASCII is double-quoted with Python-style
escapes inside (:func:`escape`); debug's ``Params=`` is the parameters as compact JSON,
quoted the same way. JSON lines are one object each, ASCII only.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Mapping
from typing import TextIO

from .._core._text import escape_char
from ._request import Answer
from ._writer import ThreadedWriter

__all__ = [
    "FORMATS",
    "LEVELS",
    "RequestLog",
    "Stamp",
    "escape",
    "redacted",
]

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
#: Parameters whose values never reach a log (compared lower-cased).
_SECRET = frozenset(
    [
        "signature",
        "accesskeysecret",
        "securitytoken",
        "authorization",
        "x-acs-security-token",
        "x-acs-signature",
        "bearertoken",
    ]
)
_BARE = re.compile(r"[\x21\x23-\x3c\x3e-\x5b\x5d-\x7e]+")
_IN_QUOTES = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def escape(text: str) -> str:
    """``text`` as one logfmt value: as is when it is printable ASCII without space,
    ``"``, ``=`` or ``\\``; else in double quotes, with ``"`` and ``\\`` backslashed and
    anything but printable ASCII escaped as in Python (``\\n``, ``\\x1b``, ``\\u00e9``)."""
    if _BARE.fullmatch(text):
        return text
    return '"' + _IN_QUOTES.sub(escape_char, text) + '"'


#: Words that make a parameter's value a secret wherever they stand in its name.
_SECRET_WORDS = ("secret", "password", "token")


def is_secret(name: str) -> bool:
    """Whether the value of parameter or header ``name`` never reaches a log line or the
    journal: the signature, and any name saying secret, password or token. One rule for
    every place taskcancel writes down what it was sent."""
    lower = name.lower()
    return lower in _SECRET or any(word in lower for word in _SECRET_WORDS)


def redacted(params: Mapping[str, str]) -> dict[str, str]:
    """``params`` with the signature and every secret replaced by ``***``."""
    return {k: ("***" if is_secret(k) else v) for k, v in params.items()}


def _params_value(params: Mapping[str, str]) -> str:
    """The redacted parameters as compact JSON, as one logfmt value."""
    return escape(json.dumps(redacted(params), separators=(",", ":")))


class Stamp:
    """``2026-11-29T12:00:00.123Z`` for now, formatting the date part once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""
        self._milli = -1  # the millisecond of the last stamp, and the stamp
        self._last = ""

    def __call__(self, now: float | None = None) -> str:
        """The stamp of ``now`` (seconds since the epoch; default: the current time)."""
        milli = int((time.time() if now is None else now) * 1000)
        if milli == self._milli:  # under load, many lines share a millisecond
            return self._last
        second, fraction = divmod(milli, 1000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        stamp = f"{self._prefix}.{fraction:03d}Z"
        self._milli, self._last = milli, stamp
        return stamp


def _fields(a: Answer) -> list[tuple[str, str]]:
    """What a request line says between its RequestId and its Status, in order."""
    if a.route:
        method, _, path = a.route.partition(" ")
        fields = [("Method", method), ("Path", path)]
    else:
        fields = [("Action", a.action)]
        if a.region_id:
            fields.append(("RegionId", a.region_id))
        if a.task_id:
            fields.append(("TaskId", a.task_id))
        if a.access_key_id:
            fields.append(("AccessKeyId", a.access_key_id))
    fields.append(("Code", a.code))
    return fields


#: Escaped values a request log remembers before it starts over.
_ESCAPED_MAX = 1024
#: Request lines wait at most this long (seconds), or until this many wait, to be written.
_FLUSH_SECONDS = 0.02
_FLUSH_LINES = 512


class RequestLog:
    """One line per request on ``stream``; ``fmt`` is ``"text"`` or ``"json"``.

    :meth:`record` is called on the event loop's thread (it buffers, and has the buffer
    flushed 20 ms later or once 512 lines wait); ``thread`` is the thread that made the
    log, whose other log lines flush the buffer first (see :func:`configured`).
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        fmt: str = "text",
        debug: bool = False,
        writer: ThreadedWriter | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.stream, self.json, self.debug = stream, fmt == "json", debug
        #: Writes for us from a thread (a stream that may stop draining); None: we write.
        self.writer = writer
        self.thread = threading.get_ident()
        # What each waiting line says: its answer, latency and time. Lines are formatted
        # when written, many in a row: cheaper than one at a time between requests.
        self._lines: list[tuple[Answer, float, float]] = []
        self._stamp = Stamp()
        self._escaped: dict[str, str] = {}

    def record(self, answer: Answer, seconds: float) -> None:
        """A line for ``answer``, answered in ``seconds``, stamped now, written soon.

        The answer must not change any more (the connection layer is done with it).
        """
        lines = self._lines
        lines.append((answer, seconds, time.time()))
        if len(lines) == 1:
            # Written a little later, many lines at once: a write (and the writer thread's
            # wake-up) per loop iteration cost more than the lines themselves under load.
            try:
                asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self.flush)
            except RuntimeError:  # no loop (an embedding caller): write now
                self.flush()
        elif len(lines) >= _FLUSH_LINES:
            self.flush()

    def _text(self, a: Answer, seconds: float, now: float | None = None) -> str:
        known = self._escaped.get  # most values repeat (action, region, key, code)
        remember = self._remember
        if a.route or not (a.region_id and a.task_id and a.access_key_id):
            fields = " ".join(
                f"{key}={known(value) or remember(value)}" for key, value in _fields(a)
            )
        else:  # an API call with every field: _fields(a) in one string (a hot path)
            fields = (
                f"Action={known(a.action) or remember(a.action)}"
                f" RegionId={known(a.region_id) or remember(a.region_id)}"
                f" TaskId={escape(a.task_id)}"  # a new one almost every time
                f" AccessKeyId={known(a.access_key_id) or remember(a.access_key_id)}"
                f" Code={known(a.code) or remember(a.code)}"
            )
        line = (
            f"{self._stamp(now)} INFO request RequestId={a.request_id} {fields} "
            f"Status={a.response.status} LatencyMs={seconds * 1000:.2f}"
        )
        if self.debug and a.params is not None:
            line += " Params=" + _params_value(a.params)
        return line + "\n"

    def _remember(self, value: str) -> str:
        """``escape(value)``, kept for the next line that has it (never empty)."""
        token = escape(value)
        escaped = self._escaped
        if len(escaped) >= _ESCAPED_MAX:  # bounded, whatever clients send
            escaped.clear()
        escaped[value] = token
        return token

    def _json(self, a: Answer, seconds: float, now: float | None = None) -> str:
        dumps = json.dumps
        fields = "".join(f'"{key}": {dumps(value)}, ' for key, value in _fields(a))
        line = (
            f'{{"time": "{self._stamp(now)}", "level": "INFO", "logger": "taskcancel.request", '
            f'"RequestId": {dumps(a.request_id)}, {fields}"Status": {a.response.status}, '
            f'"LatencyMs": {round(seconds * 1000, 3)}'
        )
        if self.debug and a.params is not None:
            line += f', "Params": {dumps(redacted(a.params))}'
        return line + "}\n"

    def flush(self) -> None:
        """Write the buffered lines now (in one ``write``)."""
        if not self._lines:
            return
        line = self._json if self.json else self._text
        text = "".join([line(answer, seconds, now) for answer, seconds, now in self._lines])
        self._lines.clear()
        if self.writer is not None:
            self.writer.put(text)
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # the stream is gone (a closed pipe): drop the lines
            pass
