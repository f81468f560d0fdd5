"""Reading the control plane's JSON bodies, and refusals in the world-file loader's words.

Every refusal is a :class:`Refusal`: an HTTP status, a code, and a message
``body: FIELD: reason`` like the world file's ``FILE: FIELD: reason``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .._core._model import TaskStatus, check_progress, parse_time
from .._store import (
    UNCHANGED,
    DuplicateTaskError,
    TaskChanges,
    TaskNotFoundError,
    UnknownRegionError,
)
from ..worldfile._json import check_values, decode_json
from ..worldfile._world import WorldFileError, parse_schedule
from ._request import RawRequest

__all__ = [
    "MAX_BODY",
    "Refusal",
    "as_time",
    "bad",
    "clock_move",
    "parsed",
    "read_json",
    "stored",
    "task_changes",
]

#: The largest body a control route reads.
MAX_BODY = 8 * 1024 * 1024

_TASK_FIELDS = ("CancelFails", "Schedule", "TaskProcess", "TaskStatus")
_TEN_YEARS = 10 * 365 * 86400


class Refusal(Exception):
    """A control request refused: ``{"Code": code, "Message": message}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def bad(message: str) -> Refusal:
    """A 400 ``InvalidParameter`` refusal."""
    return Refusal(400, "InvalidParameter", message)


def read_json(request: RawRequest) -> Any:
    """The body as JSON (an empty body is ``null``), checked as a world file is: no
    nesting past what a world file needs, no lone surrogate, no number longer than 30
    digits -- each refused naming the field, never in Python's own words."""
    if len(request.body) > MAX_BODY:
        raise Refusal(413, "RequestTooLarge", f"body: larger than {MAX_BODY} bytes")
    try:
        data = decode_json(request.body or b"null", "body")
        check_values(data, "body")
    except WorldFileError as exc:
        message = str(exc).replace("body: (file): ", "body: ", 1)
        raise bad(message) from None
    return data


def parsed(parse: Callable[[], Any]) -> Any:
    """``parse()``; a :class:`WorldFileError` becomes a 400 (a duplicate task: 409)."""
    try:
        return parse()
    except WorldFileError as exc:
        if "duplicate" in exc.reason and exc.field.endswith("TaskId"):
            raise Refusal(409, "Conflict", str(exc)) from None
        raise bad(str(exc)) from None


def stored(change: Callable[[], Any]) -> Any:
    """``change()``; the store's refusals become 409, 404 and 400."""
    try:
        return change()
    except DuplicateTaskError as exc:
        raise Refusal(409, "Conflict", f"body: {exc}") from None
    except TaskNotFoundError as exc:
        raise Refusal(404, "NotFound", str(exc)) from None
    except (UnknownRegionError, ValueError, TypeError) as exc:
        raise bad(f"body: {exc}") from None


def task_changes(data: Any) -> TaskChanges:
    """The body of ``PATCH tasks/REGION/TASK``: any of the four fields, each checked."""
    if not isinstance(data, dict):
        raise bad(f"body: (top level): must be an object, got {type(data).__name__}")
    unknown = sorted(set(data) - set(_TASK_FIELDS))
    if unknown:
        raise bad(f"body: {unknown[0]}: unknown field; known: {', '.join(_TASK_FIELDS)}")
    schedule = data.get("Schedule", UNCHANGED)
    if schedule is not UNCHANGED and schedule is not None:
        schedule = parsed(lambda: parse_schedule(data["Schedule"], "body", "Schedule"))
    return TaskChanges(
        status=_field(data, "TaskStatus", TaskStatus),
        cancel_fails=_field(data, "CancelFails", _bool),
        progress=_field(data, "TaskProcess", _progress),
        schedule=schedule,
    )


def clock_move(data: Any) -> tuple[float | None, datetime | None]:
    """The body of ``POST clock``: ``(seconds, None)`` or ``(None, time)``."""
    if not isinstance(data, dict) or len(data) != 1 or not set(data) & {"AdvanceSeconds", "Now"}:
        raise bad(
            'body: AdvanceSeconds, Now: give exactly one: {"AdvanceSeconds": 90} '
            'or {"Now": "2026-01-01T00:00:00Z"}'
        )
    if "Now" in data:
        return None, as_time(data["Now"], "Now")
    seconds = data["AdvanceSeconds"]
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        raise bad(f"body: AdvanceSeconds: must be a number of seconds, got {seconds!r}")
    if not 0 <= seconds <= _TEN_YEARS:
        raise bad(f"body: AdvanceSeconds: must be in [0, {_TEN_YEARS}], got {seconds!r}")
    return float(seconds), None


def _field(data: dict[str, Any], name: str, convert: Callable[[Any], Any]) -> Any:
    if name not in data:
        return None
    try:
        return convert(data[name])
    except (ValueError, TypeError) as exc:
        raise bad(f"body: {name}: {exc}") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _progress(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string like '40%', got {value!r}")
    return check_progress(value)


def as_time(value: Any, name: str) -> datetime:
    """A UTC time like ``2026-01-01T00:00:00Z`` (or ``...T00:00Z``), else a 400."""
    try:
        if isinstance(value, str):
            return parse_time(value)
    except ValueError:
        pass
    raise bad(f"body: {name}: not a UTC time like 2026-01-01T00:00:00Z, got {value!r}")
