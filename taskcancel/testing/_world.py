"""``DictWorld``: the smallest :class:`~taskcancel.World`, a region set and a dict of tasks.

For tests of :func:`~taskcancel.decide` and of code that takes a ``World``; the testing
kit's own shadow models (``check_transport``, ``ScriptedTransport``) use it too. It
keeps tasks exactly as given: no clock, no schedules applied, no lock.
"""

from __future__ import annotations

from collections.abc import Iterable

from .. import ECS_REGIONS, Task

__all__ = ["DictWorld"]


class DictWorld:
    """A world of ``tasks`` in ``regions`` (default: the built-in ECS regions).

    ``has_region`` and ``find_task`` are one set and one dict lookup. A task must be
    in one of the regions and its ``(region_id, task_id)`` may appear once, as in a
    store (:class:`ValueError` otherwise, naming the task).
    """

    def __init__(self, tasks: Iterable[Task] = (), *, regions: Iterable[str] | None = None):
        #: The region ids this world knows.
        self.regions: frozenset[str] = frozenset(ECS_REGIONS if regions is None else regions)
        #: The tasks, by ``(region_id, task_id)``.
        self.tasks: dict[tuple[str, str], Task] = {}
        for task in tasks:
            self.add(task)

    def __repr__(self) -> str:
        return f"<DictWorld regions={len(self.regions)} tasks={len(self.tasks)}>"

    def has_region(self, region_id: str) -> bool:
        return region_id in self.regions

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        return self.tasks.get((region_id, task_id))

    def add(self, task: Task) -> None:
        """Add a new task; refuses a non-task, an unknown region and a duplicate."""
        if not isinstance(task, Task):
            raise TypeError(f"expected a Task, got {type(task).__name__}: {task!r}")
        if task.region_id not in self.regions:
            raise ValueError(
                f"task {task.task_id!r}: region {task.region_id!r} is not in the world"
            )
        if task.key in self.tasks:
            raise ValueError(f"duplicate task {task.task_id!r} in region {task.region_id!r}")
        self.tasks[task.key] = task

    def record(self, task: Task) -> None:
        """Put ``task`` in place of the task with its key (what an applied cancel left)."""
        if task.key not in self.tasks:
            raise KeyError(f"no task {task.task_id!r} in region {task.region_id!r} to replace")
        self.tasks[task.key] = task
