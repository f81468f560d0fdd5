"""Stores hold the world (regions and tasks) and apply cancels atomically.

:class:`Store` is the protocol every store implements (the in-memory
:class:`MemoryStore` here, :class:`~taskcancel.SqliteStore` on disk); both build on
:class:`~taskcancel._store._base.StoreBase`. A store reads the clock it was given --
never the wall clock directly when one is injected -- and hands "now" to the pure
rules, so lifecycles and races are deterministic under a fake clock.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterable
from typing import Any, Protocol, Unpack

from .._core._model import ECS_REGIONS, CancelRequest, Task
from .._core._rules import DEFAULT_POLICY, Accepted, Decision, Policy
from .._store._base import (
    UNCHANGED,
    Clock,
    Decider,
    DuplicateTaskError,
    StoreBase,
    TaskChanges,
    TaskIds,
    TaskNotFoundError,
    Unchanged,
    UnknownRegionError,
    checked_regions,
    checked_tasks,
    system_clock,
)

__all__ = [
    "UNCHANGED",
    "Clock",
    "DuplicateTaskError",
    "MemoryStore",
    "Store",
    "TaskChanges",
    "TaskNotFoundError",
    "Unchanged",
    "UnknownRegionError",
    "system_clock",
]


class Store(Protocol):
    """What the transports, the emulator and its control plane need from a store.

    Every operation is atomic: a concurrent caller sees the world before or after it,
    and one that fails changes nothing.
    """

    clock: Clock

    def has_region(self, region_id: str) -> bool: ...

    def regions(self) -> frozenset[str]: ...

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        """The task as stored (its schedule not yet applied), or ``None``."""
        ...

    def get_task(self, region_id: str, task_id: str, *, account: str | None) -> Task | None:
        """The task as it stands now, if ``account`` may see it."""
        ...

    def list_tasks(self, region_id: str, *, account: str | None) -> list[Task]:
        """The account's tasks in a region as they stand now, by task id."""
        ...

    def count_tasks(self, region_id: str, *, account: str | None) -> int:
        """How many tasks the account holds in a region, in constant time."""
        ...

    def page_tasks(
        self, region_id: str, *, account: str | None, offset: int, limit: int, ids: TaskIds = None
    ) -> tuple[int, list[Task]]:
        """``(total, page)`` of :meth:`list_tasks` (only ``ids`` when given)."""
        ...

    def snapshot(self) -> tuple[frozenset[str], list[Task]]:
        """Every region and every task as stored, by (region, task id); one read."""
        ...

    def replace(self, tasks: Iterable[Task], *, regions: Iterable[str]) -> None:
        """Make the world exactly these regions and tasks (validated first)."""
        ...

    def reset(self) -> None:
        """Restore the world the store was created (or seeded) with."""
        ...

    def add_task(self, task: Task) -> None:
        """Add one task, as :meth:`add_tasks` does."""
        ...

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        """Add every task or none: refuses duplicates and unknown regions."""
        ...

    def create_task(self, task: Task, *, max_tasks: int) -> bool:
        """Add ``task`` unless its owner holds ``max_tasks`` in its region (then False)."""
        ...

    def update_task(self, region_id: str, task_id: str, **changes: Unpack[TaskChanges]) -> Task:
        """Change one task; the task as stored after it. ``None``: field unchanged."""
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
        seen: Callable[[Decision], object] | None = None,
    ) -> Decision:
        """Decide and apply atomically. ``Accepted.task`` is the task after the cancel;
        ``seen`` is given the decision before it was applied (the task as the rules saw it)."""
        ...

    def close(self) -> None: ...


_Owner = tuple[str, Any]  # (region id, owner): Any because the owner may be None


class _Tables:
    """One world: its regions, its tasks by region then id, and each account's sorted ids.

    The sorted ids give an account's count and any page of its tasks without looking
    at the rest. A replace or reset swaps the whole object, so readers see one world.
    """

    def __init__(self, regions: frozenset[str], tasks: Iterable[Task]) -> None:
        self.regions = regions
        self.tasks: dict[str, dict[str, Task]] = {}
        self.owned: dict[_Owner, list[str]] = {}
        for task in tasks:
            self.tasks.setdefault(task.region_id, {})[task.task_id] = task
            self.owned.setdefault((task.region_id, task.owner), []).append(task.task_id)
        for ids in self.owned.values():
            ids.sort()

    def get(self, region_id: str, task_id: str) -> Task | None:
        in_region = self.tasks.get(region_id)
        return None if in_region is None else in_region.get(task_id)

    def put(self, task: Task) -> None:
        """Store ``task`` in place of the task with its key (owner unchanged)."""
        self.tasks[task.region_id][task.task_id] = task

    def insert(self, task: Task) -> None:
        self.tasks.setdefault(task.region_id, {})[task.task_id] = task
        bisect.insort(self.owned.setdefault((task.region_id, task.owner), []), task.task_id)


class MemoryStore(StoreBase):
    """The in-memory world. Thread-safe; O(1) lookup by (region, task id).

    ``regions=None`` means the built-in ECS region list; ``clock`` defaults to the
    system clock and is read once per operation. Counting an account's tasks is O(1)
    and a page of them costs the page, whatever the account holds.
    """

    def __init__(
        self,
        tasks: Iterable[Task] = (),
        *,
        regions: Iterable[str] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._initial_regions = checked_regions(ECS_REGIONS if regions is None else regions)
        self._initial = tuple(checked_tasks(tasks, self._initial_regions).values())
        self.clock: Clock = clock or system_clock
        self._lock = threading.Lock()
        self._world = _Tables(self._initial_regions, self._initial)

    def __repr__(self) -> str:
        return f"<MemoryStore regions={len(self._world.regions)} tasks={len(self)}>"

    def __len__(self) -> int:
        return sum(len(in_region) for in_region in self._world.tasks.values())

    def has_region(self, region_id: str) -> bool:
        return region_id in self._world.regions

    def regions(self) -> frozenset[str]:
        return self._world.regions

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        # _Tables.get, inlined: every cancel's decide() makes this call.
        in_region = self._world.tasks.get(region_id)
        return None if in_region is None else in_region.get(task_id)

    def _owned(
        self, region_id: str, account: str | None, offset: int, limit: int | None
    ) -> tuple[int, list[Task]]:
        with self._lock:
            world = self._world
            ids = world.owned.get((region_id, account), [])
            end = None if limit is None else offset + limit
            in_region = world.tasks.get(region_id, {})
            return len(ids), [in_region[task_id] for task_id in ids[offset:end]]

    def _owned_among(self, region_id: str, account: str | None, ids: list[str]) -> list[Task]:
        with self._lock:
            found = (self._world.get(region_id, task_id) for task_id in ids)
            return [task for task in found if task is not None and task.owner == account]

    def snapshot(self) -> tuple[frozenset[str], list[Task]]:
        """Every region and every task as stored, by (region, task id); one read."""
        with self._lock:
            world = self._world
            tasks = [world.tasks[r][i] for r in sorted(world.tasks) for i in sorted(world.tasks[r])]
            return world.regions, tasks

    def replace(self, tasks: Iterable[Task], *, regions: Iterable[str]) -> None:
        """Make the world exactly these regions and tasks; bad input changes nothing."""
        new_regions = checked_regions(regions)
        world = _Tables(new_regions, checked_tasks(tasks, new_regions).values())
        with self._lock:
            self._world = world

    def reset(self) -> None:
        """Restore the world the store was created with."""
        world = _Tables(self._initial_regions, self._initial)
        with self._lock:
            self._world = world

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        """Add every task or none: refuses duplicates and unknown regions."""
        with self._lock:
            world = self._world
            new = checked_tasks(tasks, world.regions)
            for key in new:
                if world.get(*key) is not None:
                    raise DuplicateTaskError(*key)
            for task in new.values():
                world.insert(task)

    def create_task(self, task: Task, *, max_tasks: int) -> bool:
        """Add ``task`` unless its owner holds ``max_tasks`` tasks in its region."""
        with self._lock:
            world = self._world
            checked_tasks([task], world.regions)
            if len(world.owned.get((task.region_id, task.owner), ())) >= max_tasks:
                return False
            if world.get(*task.key) is not None:
                raise DuplicateTaskError(*task.key)
            world.insert(task)
            return True

    def _modify(self, region_id: str, task_id: str, change: Callable[[Task], Task]) -> Task:
        with self._lock:
            world = self._world
            task = world.get(region_id, task_id)
            if task is None:
                raise TaskNotFoundError(region_id, task_id)
            changed = change(task)
            world.put(changed)
            return changed

    def _apply(self, decider: Decider) -> Decision:
        with self._lock:
            decision = decider(self, self.clock())
            if isinstance(decision, Accepted):
                self._world.put(decision.task)
            return decision

    def close(self) -> None:
        """Nothing to release; present for the :class:`Store` protocol."""
