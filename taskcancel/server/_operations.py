"""The emulator's operations: reset, load a world, add and change tasks, faults, clock, state.

One implementation for every way in: the control plane's HTTP routes (:mod:`._control`),
:class:`~taskcancel.testing.EmulatorServer`'s methods and the pytest fixtures all call
these. Inputs are already-validated values; each store operation is atomic (one
transaction for SQLite) and a refused one changes nothing. A change of several parts (a
load, a reset, the clock, the world value) holds the
:class:`~._gate.WorldGate` alone, and ECS requests and :meth:`Operations.state` share it,
so they see the world before a change or after it, never a mix (a reset puts back the
store, clock, accounts, faults and nonces in one step). A change that is one store
transaction (adding tasks, changing one) needs no gate, so requests are not held while
it waits for a store lock held by another process.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import attrs

from .._core._model import Schedule, Task, task_at
from .._core._time import format_timestamp
from .._store import Store, TaskChanges
from .._store._clock import FakeClock
from ..worldfile import Faults, WorldSpec, faults_to_json, world_to_json
from ._journal import Journal
from ._settings import Settings
from ._world import LiveWorld

__all__ = ["Operations"]


class Operations:
    """The operations on the world ``live`` of an emulator that started from ``start``."""

    def __init__(
        self,
        live: LiveWorld,
        start: WorldSpec,
        settings: Settings,
        *,
        clock: FakeClock | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.live, self.start, self.settings, self.clock = live, start, settings, clock
        #: The request journal a reset clears (``Seq`` keeps counting).
        self.journal = journal if journal is not None else Journal(0)
        self._start_time = clock() if clock is not None else None

    def now(self) -> datetime:
        return self.live.current.store.clock()

    def health(self) -> dict[str, str]:
        world = self.live.current
        return {
            "Status": "ready",
            "Version": self.settings.version,
            "Profile": self.settings.profile.name,
            "Store": "sqlite" if world.blocking else "memory",
            "Clock": "fake" if self.clock is not None else "system",
        }

    def state(self) -> dict[str, Any]:
        """The whole world as a world file, every task as of now, plus ``Now``."""
        with self.live.gate:
            world = self.live.current
            now = world.store.clock()
            regions, tasks = world.store.snapshot()
        spec = WorldSpec(
            regions=regions,
            accounts=dict(world.accounts),
            tasks=tuple(task_at(task, now) for task in tasks),
            faults=world.faults,
        )
        document = world_to_json(spec)
        document["Faults"] = faults_to_json(world.faults)
        document["Now"] = format_timestamp(now)
        return document

    def task_json(self, task: Task) -> dict[str, Any]:
        """One task as a world file's ``Tasks`` entry, as it stands now."""
        entry: dict[str, Any] = world_to_json(WorldSpec(tasks=(task_at(task, self.now()),)))
        return dict(entry["Tasks"][0])

    def load(self, spec: WorldSpec, *, now: datetime | None = None) -> None:
        """Replace regions, accounts, tasks and faults; ``now`` moves a fake clock there.

        Under the system clock ``now`` is ignored (a state read back keeps its ``Now``).
        """
        live = self.live
        with live.gate.exclusive():
            world = live.current
            world.store.replace(spec.tasks, regions=spec.regions)
            live.current = attrs.evolve(world, accounts=spec.accounts, faults=spec.faults)
            if now is not None and self.clock is not None:
                self.clock.rewind(now)

    def reset(self) -> None:
        """Back to the world, accounts, faults and clock the server started with.

        The nonce registry is emptied too: a test after a reset sees nothing of the test
        before it, so a signed request sent before the reset is accepted once more.
        """
        live = self.live
        with live.gate.exclusive():
            store = live.current.store
            store.reset()
            # A store the server was given is reset to its own seed; put back what we added.
            missing = [
                t for t in self.start.tasks if store.find_task(t.region_id, t.task_id) is None
            ]
            if missing:
                store.add_tasks(missing)
            if self.clock is not None and self._start_time is not None:
                self.clock.rewind(self._start_time)
            live.current = attrs.evolve(
                live.current, accounts=self.start.accounts, faults=self.start.faults
            )
            live.nonces.clear()
            self.journal.clear()

    def serve_store(self, store: Store, *, start_tasks: Iterable[Task] = ()) -> None:
        """Serve ``store`` from now on; a reset puts ``start_tasks`` back into it."""
        live = self.live
        with live.gate.exclusive():
            live.current = attrs.evolve(live.current, store=store)
            self.start = attrs.evolve(self.start, tasks=tuple(start_tasks))

    def add_tasks(self, tasks: Iterable[Task]) -> list[Task]:
        """Add every task or none (duplicate or unknown region: nothing added)."""
        added = list(tasks)
        # One store transaction: a request sees the tasks before or after it without the
        # gate, so requests are not held while it waits for a store lock held elsewhere.
        self.live.current.store.add_tasks(added)
        return added

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept another AccessKey pair (until the next reset or load)."""
        if not access_key_id or not access_key_secret:
            raise ValueError("access key id and secret must be non-empty")
        live = self.live
        with live.gate.exclusive():  # changes of the world value, one at a time
            accounts = {**live.current.accounts, access_key_id: access_key_secret}
            live.current = attrs.evolve(live.current, accounts=accounts)

    def change_task(self, region_id: str, task_id: str, changes: TaskChanges) -> Task:
        """Change one task; ``TaskNotFoundError`` (a ``KeyError``) when there is none.

        ``ValueError`` for a ``Schedule`` on a task without a ``CreationTime`` to count from.
        """
        store = self.live.current.store  # one store transaction: no gate (see add_tasks)
        if isinstance(changes.get("schedule"), Schedule):
            task = store.find_task(region_id, task_id)
            if task is not None and task.creation_time is None:
                raise ValueError(
                    f"Schedule: task {task_id!r} has no CreationTime for a Schedule to "
                    "count from (give it one when it is seeded)"
                )
        return store.update_task(region_id, task_id, **changes)

    def set_faults(self, faults: Faults) -> None:
        live = self.live
        with live.gate.exclusive():
            live.current = attrs.evolve(live.current, faults=faults)

    def move_clock(self, *, seconds: float | None = None, to: datetime | None = None) -> datetime:
        """Advance the fake clock, or set it (not backwards: ``ValueError``).

        ``LookupError`` under the system clock.
        """
        if self.clock is None:
            raise LookupError("the clock is the system clock: start with --clock fake")
        with self.live.gate.exclusive():
            if to is not None:
                return self.clock.set(to)
            return self.clock.advance(seconds or 0.0)
