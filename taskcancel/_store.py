"""Stores hold the world (regions and tasks) and apply cancels atomically.

:class:`Store` is the protocol every store implements (the in-memory
:class:`MemoryStore` here, :class:`~taskcancel.SqliteStore` on disk). A store reads
the clock it was given -- never the wall clock directly when one is injected -- and
hands "now" to the pure rules, so lifecycles and races are deterministic under a fake
clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Protocol

import attrs

from ._model import ECS_REGIONS, CancelRequest, Task, task_at
from ._rules import DEFAULT_POLICY, Accepted, Decision, Policy, apply_cancel, decide

__all__ = ["Clock", "MemoryStore", "Store", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The real clock, in UTC: the default for stores and the server."""
    return datetime.now(UTC)


class Store(Protocol):
    """What the transports and the emulator need from a store."""

    clock: Clock

    def has_region(self, region_id: str) -> bool: ...

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        """The task as stored (its schedule not yet applied), or ``None``."""
        ...

    def regions(self) -> frozenset[str]: ...

    def get_task(self, region_id: str, task_id: str, *, account: str | None) -> Task | None:
        """The task as it stands now, if ``account`` may see it."""
        ...

    def list_tasks(self, region_id: str, *, account: str | None) -> list[Task]:
        """The account's tasks in a region as they stand now, oldest id first."""
        ...

    def add_task(self, task: Task) -> None:
        """Add a task; refuses an unknown region or a duplicate (region, task id)."""
        ...

    def set_cancel_fails(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Fault injection: make cancelling this task fail with CANCEL_FAILED."""
        ...

    def cancel(
        self,
        request: CancelRequest,
        *,
        account: str | None = None,
        policy: Policy = DEFAULT_POLICY,
    ) -> Decision:
        """Decide and apply atomically. ``Accepted.task`` is the task after the cancel."""
        ...

    def reset(self) -> None:
        """Restore the world the store was created (or seeded) with."""
        ...

    def close(self) -> None: ...


def _checked(tasks: Iterable[Task], regions: frozenset[str]) -> dict[str, dict[str, Task]]:
    index: dict[str, dict[str, Task]] = {}
    for task in tasks:
        if not isinstance(task, Task):
            raise TypeError(f"expected a Task, got {type(task).__name__}: {task!r}")
        if task.region_id not in regions:
            raise ValueError(
                f"task {task.task_id!r}: region {task.region_id!r} is not in the world"
            )
        in_region = index.setdefault(task.region_id, {})
        if task.task_id in in_region:
            raise ValueError(f"duplicate task {task.task_id!r} in region {task.region_id!r}")
        in_region[task.task_id] = task
    return index


class MemoryStore:
    """The in-memory world. Thread-safe; O(1) lookup by (region, task id).

    ``regions=None`` means the built-in ECS region list; ``clock`` defaults to the
    system clock and is read once per operation.
    """

    def __init__(
        self,
        tasks: Iterable[Task] = (),
        *,
        regions: Iterable[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._regions = frozenset(ECS_REGIONS if regions is None else regions)
        for region in self._regions:
            if not isinstance(region, str) or not region:
                raise ValueError(f"region ids must be non-empty strings, got {region!r}")
        self.clock: Clock = clock or system_clock
        self._lock = threading.Lock()
        self._index = _checked(tasks, self._regions)
        self._initial = {region: dict(tasks) for region, tasks in self._index.items()}

    def __repr__(self) -> str:
        return f"<MemoryStore regions={len(self._regions)} tasks={len(self)}>"

    def __len__(self) -> int:
        return sum(len(tasks) for tasks in self._index.values())

    def has_region(self, region_id: str) -> bool:
        return region_id in self._regions

    def regions(self) -> frozenset[str]:
        return self._regions

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        in_region = self._index.get(region_id)
        return None if in_region is None else in_region.get(task_id)

    def get_task(self, region_id: str, task_id: str, *, account: str | None) -> Task | None:
        task = self.find_task(region_id, task_id)
        if task is None or task.owner != account:
            return None
        return task_at(task, self.clock())

    def list_tasks(self, region_id: str, *, account: str | None) -> list[Task]:
        now = self.clock()
        with self._lock:
            found = list(self._index.get(region_id, {}).values())
        return [task_at(t, now) for t in sorted(found, key=_by_id) if t.owner == account]

    def add_task(self, task: Task) -> None:
        """Add a task; refuses an unknown region or a duplicate (region, task id)."""
        with self._lock:
            merged = _checked([task], self._regions)
            in_region = self._index.setdefault(task.region_id, {})
            if task.task_id in in_region:
                raise ValueError(f"duplicate task {task.task_id!r} in region {task.region_id!r}")
            in_region.update(merged[task.region_id])

    def set_cancel_fails(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Fault injection: make cancelling this task fail with CANCEL_FAILED."""
        with self._lock:
            task = self.find_task(region_id, task_id)
            if task is None:
                raise KeyError(f"no task {task_id!r} in region {region_id!r}")
            self._index[region_id][task_id] = attrs.evolve(task, cancel_fails=fails)

    def cancel(
        self,
        request: CancelRequest,
        *,
        account: str | None = None,
        policy: Policy = DEFAULT_POLICY,
    ) -> Decision:
        with self._lock:
            now = self.clock()
            decided = decide(request, self, account=account, policy=policy, now=now)
            decision = apply_cancel(decided, now)
            if isinstance(decision, Accepted):
                done = decision.task
                self._index[done.region_id][done.task_id] = done
            return decision

    def reset(self) -> None:
        with self._lock:
            self._index = {region: dict(tasks) for region, tasks in self._initial.items()}

    def close(self) -> None:
        """Nothing to release; present for the :class:`Store` protocol."""


def _by_id(task: Task) -> str:
    return task.task_id
