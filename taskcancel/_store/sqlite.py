"""A store on disk: the world of :class:`~taskcancel.MemoryStore`, kept in one SQLite file.

:class:`SqliteStore` is what ``taskcancel serve --store PATH`` runs on: state that
survives restarts and crashes, and that several threads and several processes may
share. It implements the :class:`~taskcancel.Store` protocol with exactly the
semantics of :class:`~taskcancel.MemoryStore`, and uses only the standard library.

Seeding. ``tasks`` and ``regions`` seed a *new* file only. When the file already holds
a store, they are ignored and its state is kept, so a restart with the same flags
keeps every cancel. The seed (regions and tasks) is kept in its own tables, and
:meth:`SqliteStore.reset` restores it.

The file format (tables, indexes, the triggers that keep per-account task counts,
and how a row becomes a task) is in :mod:`taskcancel._store._sqlite_schema`.

A file written by a newer schema version, a file that is not SQLite, an SQLite file
that is not a taskcancel store, and a corrupt file are refused with
:class:`StoreFileError` (a :class:`ValueError` naming the path and the reason); such
a file is never reset or overwritten. So is a store holding a row taskcancel cannot
read (an unknown status, a garbage time): every row is checked when the store opens,
and the error says ``FILE: table row N: field: reason``.

Durability. The journal is WAL with ``synchronous=NORMAL`` by default: a cancel that
:meth:`~SqliteStore.cancel` has returned survives a crash or kill of the process (the
commit is in the WAL, in the OS's hands, before it returns), which is what the
emulator promises. It is *not* power-loss durable: an OS crash or power cut may lose
the last commits, though it never corrupts the file. ``synchronous="FULL"`` fsyncs
every commit for those who need that, at a large cost in throughput.

Concurrency. Each thread gets its own connection (closed when the thread ends, or by
:meth:`~SqliteStore.close`). Every operation that writes is one ``BEGIN IMMEDIATE``
transaction, and every multi-statement read one read transaction, so each is atomic
across threads and processes; a task created through :meth:`~SqliteStore.create_task`
counts the owner's tasks and inserts in the same transaction, so two processes
sharing a file cannot exceed the quota. A cancel is one short transaction:
the row is read, :func:`~taskcancel.decide` runs on what was read, and the update is
conditional on the row still holding the status (and owner and schedule) decided on.
The transaction holds SQLite's write lock from the read to the write, so that guard
never fires in practice; writers, in any thread or process, serialise on the lock and
wait for it (``timeout``) rather than fail, so a task is cancelled exactly once however
many callers race.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from typing import Literal, Self

from .._core._model import ECS_REGIONS, Task
from .._core._rules import Accepted, Decision, Reason, Rejected
from .._core._text import shown
from .._store._base import (
    Clock,
    Decider,
    DuplicateTaskError,
    StoreBase,
    TaskNotFoundError,
    UnknownRegionError,
    checked_regions,
    checked_tasks,
    system_clock,
)
from .._store._sqlite_file import Connections, StoreFileError, open_store, transaction
from .._store._sqlite_schema import (
    CANCEL_IF_UNCHANGED,
    COUNT_OWNED,
    HAS_REGION,
    INSERT,
    RESET,
    SCHEMA_VERSION,
    SELECT_AMONG,
    SELECT_PAGE,
    SELECT_TASK,
    SELECT_TASKS,
    UPDATE_TASK,
    Row,
    RowError,
    task_from_row,
    task_to_row,
    time_to_text,
)

__all__ = ["SCHEMA_VERSION", "SqliteStore", "StoreFileError", "is_busy"]


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another connection held the database past the busy timeout
    (worth retrying), as opposed to any other failure (a full disk, a broken file)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return (
        isinstance(exc, sqlite3.OperationalError)
        and code is not None
        and (code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED))
    )


def _owner_key(owner: str | None) -> str:
    return "" if owner is None else "=" + owner


class _TransactionView:
    """The :class:`~taskcancel.World` that ``decide`` sees inside a cancel's transaction."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self.row: Row | None = None

    def has_region(self, region_id: str) -> bool:
        return self._conn.execute(HAS_REGION, (region_id,)).fetchone() is not None

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        self.row = self._conn.execute(SELECT_TASK, (region_id, task_id)).fetchone()
        return None if self.row is None else self._store._task(self.row)


class SqliteStore(StoreBase):
    """The world in an SQLite file; implements :class:`~taskcancel.Store`.

    ``tasks`` and ``regions`` (``None``: the built-in ECS region list) seed a new file
    and are ignored when ``path`` already holds a store. ``clock`` defaults to the system
    clock. ``synchronous`` is ``"NORMAL"`` (survives a process crash; the default) or
    ``"FULL"`` (also survives power loss; much slower). ``timeout`` is how long, in
    seconds, a writer waits for another to finish before giving up.

    Thread-safe and multi-process safe. Use it as a context manager, or call
    :meth:`close`. Raises :class:`StoreFileError` if ``path`` cannot be used.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        tasks: Iterable[Task] = (),
        *,
        regions: Iterable[str] | None = None,
        clock: Clock | None = None,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        timeout: float = 30.0,
    ) -> None:
        self._path = os.fspath(path)
        if not isinstance(self._path, str) or self._path in ("", ":memory:"):
            raise ValueError(
                f"SqliteStore needs a file path, got {path!r} (use MemoryStore for memory)"
            )
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError(f"synchronous must be 'NORMAL' or 'FULL', got {synchronous!r}")
        if not timeout >= 0:
            raise ValueError(f"timeout must be >= 0 seconds, got {timeout!r}")
        seed_regions = checked_regions(ECS_REGIONS if regions is None else regions)
        seed = checked_tasks(tasks, seed_regions)
        self.clock: Clock = clock or system_clock
        #: Seconds a write waits for a lock held elsewhere (SQLite's busy timeout).
        self.timeout = timeout
        self._conns = Connections(self._path, timeout=timeout, synchronous=synchronous)
        #: True if this store created the file and seeded it with ``tasks`` and
        #: ``regions``; False if it opened a store that already held state (kept as is).
        self.created = False
        try:
            self.created = open_store(
                self._conns.get(), self._path, seed_regions, list(seed.values())
            )
        except BaseException:
            self.close()
            raise

    def _task(self, row: Row) -> Task:
        try:
            return task_from_row(row)
        except RowError as exc:
            raise StoreFileError(self._path, f"tasks row {shown(row[:2])}: {exc}") from exc

    # -- the Store protocol ----------------------------------------------------------

    @property
    def path(self) -> str:
        """The store file."""
        return self._path

    def __repr__(self) -> str:
        state = " closed" if self._conns.closed else ""
        return f"<SqliteStore {self._path!r}{state}>"

    def __len__(self) -> int:
        count: int = self._conns.get().execute("SELECT count(*) FROM tasks").fetchone()[0]
        return count

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def has_region(self, region_id: str) -> bool:
        return self._conns.get().execute(HAS_REGION, (region_id,)).fetchone() is not None

    def regions(self) -> frozenset[str]:
        rows = self._conns.get().execute("SELECT region_id FROM regions")
        return frozenset(row[0] for row in rows)

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        """The task as stored (its schedule not yet applied), or ``None``."""
        row = self._conns.get().execute(SELECT_TASK, (region_id, task_id)).fetchone()
        return None if row is None else self._task(row)

    def _owned(
        self, region_id: str, account: str | None, offset: int, limit: int | None
    ) -> tuple[int, list[Task]]:
        conn = self._conns.get()
        with transaction(conn, "DEFERRED"):
            found = conn.execute(COUNT_OWNED, (region_id, _owner_key(account))).fetchone()
            total: int = 0 if found is None else found[0]
            if offset >= total or limit == 0:
                return total, []
            page = (region_id, account, -1 if limit is None else limit, offset)
            return total, [self._task(row) for row in conn.execute(SELECT_PAGE, page)]

    def _owned_among(self, region_id: str, account: str | None, ids: list[str]) -> list[Task]:
        conn = self._conns.get()
        found: list[Task] = []
        with transaction(conn, "DEFERRED"):
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                query = SELECT_AMONG.format(", ".join("?" * len(chunk)))
                rows = conn.execute(query, (region_id, account, *chunk))
                found.extend(self._task(row) for row in rows)
        return found

    def snapshot(self) -> tuple[frozenset[str], list[Task]]:
        """Every region and every task as stored, by (region, task id); one read."""
        conn = self._conns.get()
        with transaction(conn, "DEFERRED"):
            regions = frozenset(row[0] for row in conn.execute("SELECT region_id FROM regions"))
            rows = conn.execute(f"{SELECT_TASKS} ORDER BY 1, 2").fetchall()
        return regions, [self._task(row) for row in rows]

    def replace(self, tasks: Iterable[Task], *, regions: Iterable[str]) -> None:
        """Make the world exactly these regions and tasks; bad input changes nothing."""
        new_regions = checked_regions(regions)
        rows = [task_to_row(task) for task in checked_tasks(tasks, new_regions).values()]
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            conn.execute("DELETE FROM regions")
            conn.executemany("INSERT INTO regions VALUES (?)", [(r,) for r in new_regions])
            conn.execute("DELETE FROM tasks")
            conn.executemany(INSERT.format(table="tasks"), rows)

    def reset(self) -> None:
        """Restore the world (regions and tasks) the store file was created with."""
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            for statement in RESET:
                conn.execute(statement)

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        """Add every task or none: refuses duplicates and unknown regions."""
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            regions = frozenset(row[0] for row in conn.execute("SELECT region_id FROM regions"))
            for task in checked_tasks(tasks, regions).values():
                self._insert(conn, task)

    def create_task(self, task: Task, *, max_tasks: int) -> bool:
        """Add ``task`` unless its owner holds ``max_tasks`` tasks in its region.

        The count and the insert are one transaction: exact across processes.
        """
        checked_tasks([task], frozenset({task.region_id}))
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            if conn.execute(HAS_REGION, (task.region_id,)).fetchone() is None:
                raise UnknownRegionError(task.region_id, task.task_id)
            found = conn.execute(COUNT_OWNED, (task.region_id, _owner_key(task.owner))).fetchone()
            if found is not None and found[0] >= max_tasks:
                return False
            self._insert(conn, task)
            return True

    def _insert(self, conn: sqlite3.Connection, task: Task) -> None:
        try:
            conn.execute(INSERT.format(table="tasks"), task_to_row(task))
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_CONSTRAINT_PRIMARYKEY":
                raise
            raise DuplicateTaskError(task.region_id, task.task_id) from None

    def _modify(self, region_id: str, task_id: str, change: Callable[[Task], Task]) -> Task:
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            row = conn.execute(SELECT_TASK, (region_id, task_id)).fetchone()
            if row is None:
                raise TaskNotFoundError(region_id, task_id)
            changed = change(self._task(row))
            new = task_to_row(changed)
            conn.execute(UPDATE_TASK, (*new[2:4], *new[5:], region_id, task_id))
            return changed

    def _apply(self, decider: Decider) -> Decision:
        conn = self._conns.get()
        with transaction(conn, "IMMEDIATE"):
            view = _TransactionView(self, conn)
            decision = decider(view, self.clock())
            if not isinstance(decision, Accepted) or view.row is None:
                return decision
            done, row = decision.task, view.row
            cursor = conn.execute(
                CANCEL_IF_UNCHANGED,
                (
                    done.status.value,
                    time_to_text(done.finished_time),
                    done.progress,
                    *row[:2],  # region_id, task_id
                    row[4],  # owner
                    row[3],  # status
                    *row[10:13],  # schedule
                ),
            )
            if cursor.rowcount == 1:
                return decision
            # Unreachable while BEGIN IMMEDIATE holds the write lock from the read to the
            # write; kept as the guard the contract names: the task changed underneath.
            return Rejected(Reason.CANCEL_FAILED)

    def close(self) -> None:
        """Close every connection this store opened. Idempotent."""
        self._conns.close()
