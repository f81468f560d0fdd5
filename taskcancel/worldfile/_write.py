"""A world as a world file: :func:`world_to_json`, the inverse of ``parse_world``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._core._model import Task
from .._core._time import format_time, format_timestamp
from ._world import Faults, WorldSpec

__all__ = ["faults_to_json", "task_to_json", "world_to_json"]


def world_to_json(spec: WorldSpec) -> dict[str, Any]:
    """The world file for ``spec``.

    ``parse_world(world_to_json(s)) == s`` when every task's owner is one of the
    accounts and its times are whole seconds (world files carry no fractions).
    """
    tasks = [task_to_json(task) for task in spec.tasks]
    result: dict[str, Any] = {
        "Regions": sorted(spec.regions),
        "Accounts": [
            {"AccessKeyId": key, "AccessKeySecret": secret} for key, secret in spec.accounts.items()
        ],
        "Tasks": tasks,
    }
    if spec.faults != Faults():
        result["Faults"] = faults_to_json(spec.faults)
    return result


def task_to_json(task: Task) -> dict[str, Any]:
    """One task as a world file's ``Tasks[]`` entry."""
    entry: dict[str, Any] = {
        "TaskId": task.task_id,
        "RegionId": task.region_id,
        "TaskAction": task.action.value,
        "TaskStatus": task.status.value,
        "AccessKeyId": task.owner,
    }
    if task.creation_time is not None:
        entry["CreationTime"] = _file_time(task.creation_time)
    if task.finished_time is not None:
        entry["FinishedTime"] = _file_time(task.finished_time)
    if task.resource_id is not None:
        entry["ResourceId"] = task.resource_id
    if task.progress is not None:
        entry["TaskProcess"] = task.progress
    if task.cancel_fails:
        entry["CancelFails"] = True
    if task.schedule is not None:
        entry["Schedule"] = {
            "QueuedSeconds": task.schedule.queued_seconds,
            "ProcessingSeconds": task.schedule.processing_seconds,
            "Outcome": task.schedule.outcome.value,
        }
    return entry


def faults_to_json(faults: Faults) -> dict[str, Any]:
    """A world file's ``Faults`` object (what ``parse_faults`` reads back)."""
    return {
        "ThrottleRate": faults.throttle_rate,
        "RetryAfterMs": faults.retry_after_ms,
        "LatencyMs": faults.latency_ms,
    }


def _file_time(value: datetime) -> str:
    """ECS's minute format, or with seconds when the time has them (world files keep them)."""
    if value.second or value.microsecond:
        return format_timestamp(value)
    return format_time(value)
