"""The domain model: task actions, statuses, tasks, cancel requests and regions.

Everything here is an immutable value. Enum values are the strings the ECS API puts on
the wire, so ``TaskStatus("Processing")`` parses a DescribeTasks reply and
``TaskStatus.PROCESSING.value`` renders one.

A task may carry a :class:`Schedule`: a lifecycle anchored at its creation time
(queued, then processing with rising progress, then finished or failed). The status
of a scheduled task is never read from a clock here; :func:`task_at` computes it as a
pure function of the task and a time the caller passes in.
"""

from __future__ import annotations

import enum
from datetime import UTC as _UTC
from datetime import datetime, timedelta

import attrs

from ._time import format_time, parse_time

__all__ = [
    "ECS_REGIONS",
    "CancelRequest",
    "Schedule",
    "Task",
    "TaskAction",
    "TaskStatus",
    "cancelled",
    "check_progress",
    "format_time",
    "parse_time",
    "task_at",
]


class TaskAction(enum.Enum):
    """The operation that produced a task (DescribeTasks ``TaskAction``)."""

    IMPORT_IMAGE = "ImportImage"
    EXPORT_IMAGE = "ExportImage"
    REDEPLOY_INSTANCE = "RedeployInstance"
    MODIFY_DISK_SPEC = "ModifyDiskSpec"
    ARCHIVE_SNAPSHOT = "ArchiveSnapshot"

    # Members are singletons compared by identity; identity hashing keeps policy-set
    # lookups in decide() fast (Enum's own __hash__ is written in Python).
    __hash__ = object.__hash__


class TaskStatus(enum.Enum):
    """A task's status (DescribeTasks ``TaskStatus``).

    The docs call a cancellable task "running"; its wire value is ``Processing``. A
    cancelled task becomes ``Deleted``: the only status the 2018-2019 DescribeTasks
    tables define as "cancelled" (an inference; the CancelTask page does not say).
    """

    WAITING = "Waiting"
    PROCESSING = "Processing"
    FINISHED = "Finished"
    FAILED = "Failed"
    DELETED = "Deleted"
    PAUSED = "Paused"

    __hash__ = object.__hash__

    @property
    def is_terminal(self) -> bool:
        """Finished, failed and deleted tasks never change again."""
        return self in _TERMINAL


_TERMINAL = frozenset({TaskStatus.FINISHED, TaskStatus.FAILED, TaskStatus.DELETED})


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware (UTC), got naive {value!r}")
    return value.astimezone(_UTC)


@attrs.frozen
class Schedule:
    """A deterministic lifecycle, anchored at the task's ``creation_time``.

    The task waits ``queued_seconds`` (status ``Waiting``), then processes for
    ``processing_seconds`` (status ``Processing``, ``progress`` rising linearly to
    100%), then ends with ``outcome`` (``Finished`` or ``Failed``).
    """

    queued_seconds: float = attrs.field(default=0.0)
    processing_seconds: float = attrs.field(default=60.0)
    outcome: TaskStatus = attrs.field(default=TaskStatus.FINISHED)

    @queued_seconds.validator
    def _check_queued(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not value >= 0:
            raise ValueError(f"Schedule.queued_seconds must be >= 0, got {value!r}")

    @processing_seconds.validator
    def _check_processing(self, attribute: attrs.Attribute[float], value: float) -> None:
        if not value > 0:
            raise ValueError(f"Schedule.processing_seconds must be > 0, got {value!r}")

    @outcome.validator
    def _check_outcome(self, attribute: attrs.Attribute[TaskStatus], value: TaskStatus) -> None:
        if value not in (TaskStatus.FINISHED, TaskStatus.FAILED):
            raise ValueError(f"Schedule.outcome must be Finished or Failed, got {value!r}")


def check_progress(value: str) -> str:
    """``value`` if it reads like ``0%``..``100%`` (ASCII digits); else ``ValueError``."""
    number = value.removesuffix("%")
    if number == value or not (number.isascii() and number.isdigit()) or int(number) > 100:
        raise ValueError(f"progress must look like '0%'..'100%', got {value!r}")
    return value


def _check_progress(
    instance: object, attribute: attrs.Attribute[str | None], value: str | None
) -> None:
    if value is not None:
        check_progress(value)


@attrs.frozen(kw_only=True)
class Task:
    """One ECS task, as DescribeTaskAttribute would show it.

    ``owner`` is the account (AccessKeyId) the task belongs to; ``None`` is the
    anonymous account of the in-memory mock. ``cancel_fails`` is fault injection:
    applying an accepted cancel to such a task fails with ``CancelTaskFailed``.
    """

    task_id: str
    region_id: str
    action: TaskAction = attrs.field(converter=TaskAction)
    status: TaskStatus = attrs.field(converter=TaskStatus)
    owner: str | None = None
    creation_time: datetime | None = attrs.field(default=None, converter=_utc)
    finished_time: datetime | None = attrs.field(default=None, converter=_utc)
    resource_id: str | None = None
    progress: str | None = attrs.field(default=None, validator=_check_progress)
    cancel_fails: bool = False
    schedule: Schedule | None = None

    def __attrs_post_init__(self) -> None:
        if self.schedule is not None and self.creation_time is None:
            raise ValueError(f"task {self.task_id!r}: a schedule needs a creation_time")

    @property
    def key(self) -> tuple[str, str]:
        """The lookup key: tasks are unique per (region, task id)."""
        return (self.region_id, self.task_id)


def task_at(task: Task, now: datetime | None) -> Task:
    """The task as it stands at ``now``: its schedule applied, or itself unchanged.

    Pure and monotone: for a later ``now`` the status never moves backwards, and a
    terminal status (including one stored with the task) never changes.
    """
    schedule = task.schedule
    if schedule is None or now is None or task.creation_time is None or task.status.is_terminal:
        return task
    if now.tzinfo is None:
        now = now.replace(tzinfo=_UTC)
    elapsed = (now - task.creation_time).total_seconds()
    if elapsed < schedule.queued_seconds:
        return attrs.evolve(task, status=TaskStatus.WAITING, progress="0%", finished_time=None)
    running = elapsed - schedule.queued_seconds
    if running < schedule.processing_seconds:
        percent = min(99, int(100 * running / schedule.processing_seconds))
        return attrs.evolve(
            task, status=TaskStatus.PROCESSING, progress=f"{percent}%", finished_time=None
        )
    end = task.creation_time + timedelta(
        seconds=schedule.queued_seconds + schedule.processing_seconds
    )
    done = "100%" if schedule.outcome is TaskStatus.FINISHED else task.progress
    return attrs.evolve(
        task, status=schedule.outcome, progress=done, finished_time=end, schedule=None
    )


def cancelled(task: Task, now: datetime | None) -> Task:
    """The task after a successful cancel: ``Deleted``, finished at ``now``."""
    # A hot path (every cancel): copy the already-valid fields instead of re-running
    # every converter and validator as attrs.evolve would, each through its slot (the
    # frozen class's __setattr__ refuses; the slot's own __set__ is what attrs uses too).
    if now is not None and now.tzinfo is None:
        now = now.replace(tzinfo=_UTC)  # as in task_at: a naive clock reads UTC
    done = _new(Task)
    for get, put in _KEPT_SLOTS:
        put(done, get(task))
    _set_status(done, TaskStatus.DELETED)
    _set_finished(done, _utc(now))
    _set_schedule(done, None)
    return done


_TASK_FIELDS = tuple(field.name for field in attrs.fields(Task))
_new = object.__new__
_CHANGED = ("status", "finished_time", "schedule")
#: (read, write) of each slot a cancel keeps as it was.
_KEPT_SLOTS = tuple(
    (Task.__dict__[name].__get__, Task.__dict__[name].__set__)
    for name in _TASK_FIELDS
    if name not in _CHANGED
)
_set_status, _set_finished, _set_schedule = (Task.__dict__[name].__set__ for name in _CHANGED)


@attrs.frozen
class CancelRequest:
    """What a caller sent to CancelTask, unvalidated.

    Absent (``None``) and empty strings both count as "missing".
    """

    region_id: str | None = None
    task_id: str | None = None


#: The ECS region ids of the official endpoint list, as data (Alibaba Cloud ECS
#: "Endpoints" page: alibabacloud.com/help/en/ecs/developer-reference/api-ecs-2014-05-26-endpoint).
ECS_REGIONS: frozenset[str] = frozenset(
    {
        # Asia Pacific (endpoint page, 2026)
        "cn-qingdao",
        "cn-beijing",
        "cn-zhangjiakou",
        "cn-huhehaote",
        "cn-wulanchabu",
        "cn-hangzhou",
        "cn-shanghai",
        "cn-nanjing",
        "cn-fuzhou",
        "cn-wuhan-lr",
        "cn-shenzhen",
        "cn-heyuan",
        "cn-guangzhou",
        "cn-chengdu",
        "cn-hongkong",
        "cn-zhengzhou-jva",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ap-south-1",
        # Outside Asia Pacific
        "us-east-1",
        "us-west-1",
        "eu-central-1",
        "eu-west-1",
        "me-east-1",
        "me-central-1",
        "na-south-1",
        # Industry cloud
        "cn-shanghai-finance-1",
        "cn-shenzhen-finance-1",
        "cn-beijing-finance-1",
        "cn-north-2-gov-1",
    }
)
