"""A task in the API's own field names and back, and the ids of new tasks: one place for
every transport, the world file and the emulator."""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Mapping
from typing import Any

from .._core._model import (
    Task,
    TaskAction,
    TaskStatus,
    check_progress,
    format_time,
    parse_time,
)
from .._core._rules import DEFAULT_POLICY, Policy, supports_cancel
from .._core._text import shown

__all__ = ["IdGenerator", "task_from_api", "task_to_api"]


class IdGenerator:
    """Ids shaped like ECS's: a prefix, ``-``, then 20 lowercase letters and digits.

    Seedable, so a test that creates tasks through the API sees the same ids every
    run; thread-safe.
    """

    _ALPHABET = string.ascii_lowercase + string.digits

    def __init__(self, seed: int | str | None = None) -> None:
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, prefix: str) -> str:
        with self._lock:
            tail = "".join(self._random.choices(self._ALPHABET, k=20))
        return f"{prefix}-{tail}"


def task_to_api(task: Task, policy: Policy = DEFAULT_POLICY) -> dict[str, Any]:
    """A task in the API's own field names (DescribeTasks ``TaskSet.Task[]``)."""
    return {
        "TaskId": task.task_id,
        "TaskAction": task.action.value,
        "TaskStatus": task.status.value,
        "SupportCancel": "true" if supports_cancel(task, policy) else "false",
        "CreationTime": format_time(task.creation_time) if task.creation_time else "",
        "FinishedTime": format_time(task.finished_time) if task.finished_time else "",
        "ResourceId": task.resource_id or "",
    }


def task_from_api(data: Mapping[str, Any], *, region_id: str, owner: str | None) -> Task:
    """Build a :class:`Task` from API field names; raises ``ValueError`` naming the field."""
    fields: dict[str, Any] = {"region_id": region_id, "owner": owner}
    for key, name, convert in (
        ("TaskId", "task_id", _nonempty),
        ("TaskAction", "action", TaskAction),
        ("TaskStatus", "status", TaskStatus),
        ("CreationTime", "creation_time", _time_or_none),
        ("FinishedTime", "finished_time", _time_or_none),
        ("ResourceId", "resource_id", _str_or_none),
        ("TaskProcess", "progress", _progress_or_none),
    ):
        if key in data:
            try:
                fields[name] = convert(data[key])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{key}: {exc}") from None
        elif name in ("task_id", "action", "status"):
            raise ValueError(f"{key}: required field is missing")
    try:
        return Task(**fields)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None


def _nonempty(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {shown(value)}")
    return value


def _str_or_none(value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string, got {shown(value)}")
    return value


def _progress_or_none(value: object) -> str | None:
    text = _str_or_none(value)
    return None if text is None else check_progress(text)


def _time_or_none(value: object) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a time string like 2026-11-27T10:00Z, got {shown(value)}")
    return parse_time(value)
