"""The emulator's operations: reset, load a world, add and change tasks, faults, clock, state.

One implementation for every way in: the control plane's HTTP routes (:mod:`._control`),
:class:`~taskcancel.testing.EmulatorServer`'s methods and the pytest fixtures all call
these. Inputs are already-validated values; each store operation is atomic (one
transaction for SQLite) and a refused one changes nothing. Every change holds the app's
:class:`~._gate.WorldGate` alone, and :meth:`Operations.state` shares it, so an ECS
request or a state read sees the world before a change or after it, never a mix (a
reset puts back the store, clock, accounts, faults and nonces in one step).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from .._core._model import Schedule, Task, task_at
from .._store import MemoryStore, TaskChanges
from .._store._clock import FakeClock
from ..worldfile import Faults, WorldSpec, faults_to_json, world_to_json
from ._app import Emulator

__all__ = ["Operations"]


class Operations:
    """The operations on a running emulator ``app`` that started from ``start``."""

    def __init__(
        self,
        app: Emulator,
        start: WorldSpec,
        *,
        clock: FakeClock | None = None,
        version: str = "",
    ) -> None:
        self.app, self.start, self.clock = app, start, clock
        self.version = version
        self._start_time = clock() if clock is not None else None

    def now(self) -> datetime:
        return self.app.store.clock()

    def health(self) -> dict[str, str]:
        return {
            "Status": "ready",
            "Version": self.version,
            "Profile": self.app.profile.name,
            "Store": "memory" if isinstance(self.app.store, MemoryStore) else "sqlite",
            "Clock": "fake" if self.clock is not None else "system",
        }

    def state(self) -> dict[str, Any]:
        """The whole world as a world file, every task as of now, plus ``Now``."""
        with self.app.gate:
            now = self.now()
            regions, tasks = self.app.store.snapshot()
            accounts, faults = dict(self.app.accounts), self.app.faults
        spec = WorldSpec(
            regions=regions,
            accounts=accounts,
            tasks=tuple(task_at(task, now) for task in tasks),
            faults=faults,
        )
        document = world_to_json(spec)
        document["Faults"] = faults_to_json(faults)
        document["Now"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        return document

    def task_json(self, task: Task) -> dict[str, Any]:
        """One task as a world file's ``Tasks`` entry, as it stands now."""
        entry: dict[str, Any] = world_to_json(WorldSpec(tasks=(task_at(task, self.now()),)))
        return dict(entry["Tasks"][0])

    def load(self, spec: WorldSpec, *, now: datetime | None = None) -> None:
        """Replace regions, accounts, tasks and faults; ``now`` moves a fake clock there.

        Under the system clock ``now`` is ignored (a state read back keeps its ``Now``).
        """
        with self.app.gate.exclusive():
            self.app.store.replace(spec.tasks, regions=spec.regions)
            self.app.accounts = dict(spec.accounts)
            self.app.faults = spec.faults
            if now is not None and self.clock is not None:
                self.clock.rewind(now)

    def reset(self) -> None:
        """Back to the world, accounts, faults and clock the server started with.

        The nonce registry is emptied too: a test after a reset sees nothing of the test
        before it, so a signed request sent before the reset is accepted once more.
        """
        app = self.app
        with app.gate.exclusive():
            app.store.reset()
            # A store the server was given is reset to its own seed; put back what we added.
            missing = [
                t for t in self.start.tasks if app.store.find_task(t.region_id, t.task_id) is None
            ]
            if missing:
                app.store.add_tasks(missing)
            if self.clock is not None and self._start_time is not None:
                self.clock.rewind(self._start_time)
            app.accounts = dict(self.start.accounts)
            app.fault_rules.reset(self.start.faults)  # counts and seeded generator too
            app.nonces.clear()

    def add_tasks(self, tasks: Iterable[Task]) -> list[Task]:
        """Add every task or none (duplicate or unknown region: nothing added)."""
        added = list(tasks)
        with self.app.gate.exclusive():
            self.app.store.add_tasks(added)
        return added

    def change_task(self, region_id: str, task_id: str, changes: TaskChanges) -> Task:
        """Change one task; ``TaskNotFoundError`` (a ``KeyError``) when there is none.

        ``ValueError`` for a ``Schedule`` on a task without a ``CreationTime`` to count from.
        """
        with self.app.gate.exclusive():
            if isinstance(changes.get("schedule"), Schedule):
                task = self.app.store.find_task(region_id, task_id)
                if task is not None and task.creation_time is None:
                    raise ValueError(
                        f"Schedule: task {task_id!r} has no CreationTime for a Schedule to "
                        "count from (give it one when it is seeded)"
                    )
            return self.app.store.update_task(region_id, task_id, **changes)

    def set_faults(self, faults: Faults) -> None:
        with self.app.gate.exclusive():
            self.app.faults = faults

    def move_clock(self, *, seconds: float | None = None, to: datetime | None = None) -> datetime:
        """Advance the fake clock, or set it (not backwards: ``ValueError``).

        ``LookupError`` under the system clock.
        """
        if self.clock is None:
            raise LookupError("the clock is the system clock: start with --clock fake")
        with self.app.gate.exclusive():
            if to is not None:
                return self.clock.set(to)
            return self.clock.advance(seconds or 0.0)
