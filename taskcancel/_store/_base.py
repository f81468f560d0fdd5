"""What every store shares: the :class:`Store` protocol, its errors, and :class:`StoreBase`.

:class:`StoreBase` holds what :class:`~taskcancel.MemoryStore` and
:class:`~taskcancel.SqliteStore` do alike -- the reads that apply schedules
(:meth:`~StoreBase.get_task`, :meth:`~StoreBase.list_tasks`,
:meth:`~StoreBase.page_tasks`), the checks of seeds and new tasks, the edit of one
task, and the cancel itself (:func:`~taskcancel.decide` then
:func:`~taskcancel.apply_cancel`). A store supplies only storage: a few
primitives, each atomic on its own.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any, TypedDict, Unpack

import attrs

from .._core._model import CancelRequest, Schedule, Task, TaskStatus, check_progress, task_at
from .._core._rules import DEFAULT_POLICY, Decision, Policy, World, apply_cancel, decide

__all__ = [
    "UNCHANGED",
    "Clock",
    "Decider",
    "DuplicateTaskError",
    "StoreBase",
    "TaskChanges",
    "TaskIds",
    "TaskNotFoundError",
    "Unchanged",
    "UnknownRegionError",
    "checked_regions",
    "checked_tasks",
    "system_clock",
]

Clock = Callable[[], datetime]

#: What a cancel comes to, given the world as it stands inside the store's atomic step.
Decider = Callable[[World, datetime], Decision]


def system_clock() -> datetime:
    """The real clock, in UTC: the default for stores and the server."""
    return datetime.now(UTC)


class _TaskError:
    """The (region, task) an error is about, and pickling that keeps them."""

    region_id: str
    task_id: str

    def _about(self, region_id: str, task_id: str) -> None:
        self.region_id = region_id
        self.task_id = task_id

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.region_id, self.task_id))


class DuplicateTaskError(_TaskError, ValueError):
    """A task with this (region, task id) exists already, or comes twice in one batch."""

    def __init__(self, region_id: str, task_id: str) -> None:
        super().__init__(f"duplicate task {task_id!r} in region {region_id!r}")
        self._about(region_id, task_id)


class UnknownRegionError(_TaskError, ValueError):
    """A task names a region the store does not have."""

    def __init__(self, region_id: str, task_id: str) -> None:
        super().__init__(f"task {task_id!r}: region {region_id!r} is not in the world")
        self._about(region_id, task_id)


class TaskNotFoundError(_TaskError, KeyError):
    """There is no task with this (region, task id)."""

    def __init__(self, region_id: str, task_id: str) -> None:
        super().__init__(f"no task {task_id!r} in region {region_id!r}")
        self._about(region_id, task_id)

    def __str__(self) -> str:  # KeyError would show the message in quotes
        return str(self.args[0])


class Unchanged(enum.Enum):
    """The type of :data:`UNCHANGED`."""

    UNCHANGED = "UNCHANGED"


#: ``update_task(..., schedule=UNCHANGED)`` keeps the schedule (``None`` removes it).
UNCHANGED = Unchanged.UNCHANGED


class TaskChanges(TypedDict, total=False):
    """What :meth:`~taskcancel.Store.update_task` may change; a missing or ``None`` key
    keeps the field (but ``schedule=None`` removes the schedule; :data:`UNCHANGED` keeps it).
    """

    status: TaskStatus | str | None
    cancel_fails: bool | None
    progress: str | None
    schedule: Schedule | Unchanged | None


#: ``page_tasks(ids=...)``: the ids to keep, or ``None`` for every task.
TaskIds = Collection[str] | None


def checked_regions(regions: Iterable[str]) -> frozenset[str]:
    """``regions`` as a set; ``ValueError`` unless each is a non-empty string."""
    result = frozenset(regions)
    for region in result:
        if not isinstance(region, str) or not region:
            raise ValueError(f"region ids must be non-empty strings, got {region!r}")
    return result


def checked_tasks(tasks: Iterable[Task], regions: frozenset[str]) -> dict[tuple[str, str], Task]:
    """The tasks by (region, task id), in order; refuses non-tasks, unknown regions, twins."""
    index: dict[tuple[str, str], Task] = {}
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"expected a Task, got {type(task).__name__}: {task!r}")
        if task.region_id not in regions:
            raise UnknownRegionError(task.region_id, task.task_id)
        if task.key in index:
            raise DuplicateTaskError(task.region_id, task.task_id)
        index[task.key] = task
    return index


class StoreBase(abc.ABC):
    """The shared half of a store; subclasses provide the storage primitives below."""

    clock: Clock

    @abc.abstractmethod
    def find_task(self, region_id: str, task_id: str) -> Task | None: ...

    @abc.abstractmethod
    def _owned(
        self, region_id: str, account: str | None, offset: int, limit: int | None
    ) -> tuple[int, list[Task]]:
        """``(count, stored tasks [offset:offset+limit])`` of the account, by task id."""

    @abc.abstractmethod
    def _owned_among(self, region_id: str, account: str | None, ids: list[str]) -> list[Task]:
        """The account's stored tasks whose ids are in ``ids``, by task id."""

    @abc.abstractmethod
    def _modify(self, region_id: str, task_id: str, change: Callable[[Task], Task]) -> Task:
        """Replace the task by ``change(task)`` atomically; :class:`TaskNotFoundError`."""

    @abc.abstractmethod
    def _apply(self, decider: Decider) -> Decision:
        """Run ``decider`` atomically on the world and write the task it accepts."""

    @abc.abstractmethod
    def add_tasks(self, tasks: Iterable[Task]) -> None: ...

    def get_task(self, region_id: str, task_id: str, *, account: str | None) -> Task | None:
        """The task as it stands now, if ``account`` may see it."""
        task = self.find_task(region_id, task_id)
        if task is None or task.owner != account:
            return None
        return task_at(task, self.clock())

    def list_tasks(self, region_id: str, *, account: str | None) -> list[Task]:
        """The account's tasks in a region as they stand now, by task id."""
        now = self.clock()
        return [task_at(task, now) for task in self._owned(region_id, account, 0, None)[1]]

    def count_tasks(self, region_id: str, *, account: str | None) -> int:
        """How many tasks the account holds in a region (every status), in constant time."""
        return self._owned(region_id, account, 0, 0)[0]

    def page_tasks(
        self, region_id: str, *, account: str | None, offset: int, limit: int, ids: TaskIds = None
    ) -> tuple[int, list[Task]]:
        """``(total, page)``: the account's tasks in a region by task id, as they stand now.

        Only the page's schedules are applied, so the cost follows ``limit`` (and the
        number of ``ids``), not how many tasks the account holds.
        """
        if offset < 0 or limit < 0:
            raise ValueError(f"offset and limit must be >= 0, got {offset} and {limit}")
        if ids is None:
            total, page = self._owned(region_id, account, offset, limit)
        else:
            found = self._owned_among(region_id, account, sorted(set(ids)))
            total, page = len(found), found[offset : offset + limit]
        now = self.clock()
        return total, [task_at(task, now) for task in page]

    def add_task(self, task: Task) -> None:
        """Add one task; refuses an unknown region or a duplicate (region, task id)."""
        self.add_tasks([task])

    def update_task(self, region_id: str, task_id: str, **changes: Unpack[TaskChanges]) -> Task:
        """Change one task's status, fault flag, progress or schedule; ``None`` keeps one.

        Returns the task as stored after the change. :class:`TaskNotFoundError` (a
        ``KeyError``) if there is no such task; ``ValueError`` for a bad value or a
        result that is not a valid task (a schedule needs a ``creation_time``).
        """
        fields: dict[str, Any] = {}
        status = changes.get("status")
        if status is not None:
            fields["status"] = TaskStatus(status)
        cancel_fails = changes.get("cancel_fails")
        if cancel_fails is not None:
            if not isinstance(cancel_fails, bool):
                raise ValueError(f"cancel_fails must be True or False, got {cancel_fails!r}")
            fields["cancel_fails"] = cancel_fails
        progress = changes.get("progress")
        if progress is not None:
            fields["progress"] = check_progress(progress)
        schedule = changes.get("schedule", UNCHANGED)
        if schedule is not UNCHANGED:
            if schedule is not None and not isinstance(schedule, Schedule):
                raise ValueError(f"schedule must be a Schedule or None, got {schedule!r}")
            fields["schedule"] = schedule
        unknown = sorted(set(changes) - set(TaskChanges.__annotations__))
        if unknown:
            raise TypeError(f"update_task() got unknown field(s): {', '.join(unknown)}")
        return self._modify(region_id, task_id, lambda task: attrs.evolve(task, **fields))

    def set_cancel_fails(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Fault injection: make cancelling this task fail with CANCEL_FAILED."""
        self.update_task(region_id, task_id, cancel_fails=fails)

    def cancel(
        self,
        request: CancelRequest,
        *,
        account: str | None = None,
        policy: Policy = DEFAULT_POLICY,
        seen: Callable[[Decision], object] | None = None,
    ) -> Decision:
        """Decide and apply atomically. ``Accepted.task`` is the task after the cancel;
        ``seen`` is given the decision before it was applied (the task as the rules saw it)."""

        def decider(world: World, now: datetime) -> Decision:
            decided = decide(request, world, account=account, policy=policy, now=now)
            if seen is not None:
                seen(decided)
            return apply_cancel(decided, now)

        return self._apply(decider)
