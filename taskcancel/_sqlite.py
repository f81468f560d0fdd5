"""A store on disk: the world of :class:`~taskcancel.MemoryStore`, kept in one SQLite file.

:class:`SqliteStore` is what ``taskcancel serve --store PATH`` runs on: state that
survives restarts and crashes, and that several threads and several processes may
share. It implements the :class:`~taskcancel.Store` protocol with exactly the
semantics of :class:`~taskcancel.MemoryStore`, and uses only the standard library.

Seeding. ``tasks`` and ``regions`` seed a *new* file only. When the file already holds
a store, they are ignored and its state is kept, so a restart with the same flags
keeps every cancel. The seed is kept in its own table, and :meth:`SqliteStore.reset`
restores it.

Schema (version :data:`SCHEMA_VERSION`, in ``PRAGMA user_version``; the file is
marked as a taskcancel store by ``PRAGMA application_id``)::

    regions    (region_id TEXT PRIMARY KEY)                         -- immutable
    tasks      (region_id, task_id, action, status, owner,          -- the world
                creation_time, finished_time, resource_id, progress,
                cancel_fails, queued_seconds, processing_seconds, outcome,
                PRIMARY KEY (region_id, task_id))
    seed_tasks (same columns as tasks)                              -- what reset() restores

Times are UTC ISO-8601 text with microseconds (``2026-11-27T10:00:00.000000Z``);
enums are their wire strings; a task without a schedule has NULL schedule columns.

A file written by a newer schema version, a file that is not SQLite, an SQLite file
that is not a taskcancel store, and a corrupt file are refused with
:class:`StoreFileError` (a :class:`ValueError` naming the path and the reason); such
a file is never reset or overwritten.

Durability. The journal is WAL with ``synchronous=NORMAL`` by default: a cancel that
:meth:`~SqliteStore.cancel` has returned survives a crash or kill of the process (the
commit is in the WAL, in the OS's hands, before it returns), which is what the
emulator promises. It is *not* power-loss durable: an OS crash or power cut may lose
the last commits, though it never corrupts the file. ``synchronous="FULL"`` fsyncs
every commit for those who need that, at a large cost in throughput.

Concurrency. Each thread gets its own connection (closed when the thread ends, or by
:meth:`~SqliteStore.close`). A cancel is one short ``BEGIN IMMEDIATE`` transaction:
the row is read, :func:`~taskcancel.decide` runs on what was read, and the update is
conditional on the row still holding the status (and owner and schedule) decided on.
The transaction holds SQLite's write lock from the read to the write, so that guard
never fires in practice; writers, in any thread or process, serialise on the lock and
wait for it (``timeout``) rather than fail, so a task is cancelled exactly once however
many callers race.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Literal, Self

from ._model import ECS_REGIONS, CancelRequest, Schedule, Task, TaskStatus, task_at
from ._rules import (
    DEFAULT_POLICY,
    Accepted,
    Decision,
    Policy,
    Reason,
    Rejected,
    apply_cancel,
    decide,
)
from ._store import Clock, _checked, system_clock

__all__ = ["SCHEMA_VERSION", "SqliteStore", "StoreFileError"]

#: The store schema this version writes, and the newest it reads.
SCHEMA_VERSION = 1

#: ``PRAGMA application_id`` of a taskcancel store ("TkCn").
APPLICATION_ID = 0x546B436E


_COLUMNS = (
    "region_id",
    "task_id",
    "action",
    "status",
    "owner",
    "creation_time",
    "finished_time",
    "resource_id",
    "progress",
    "cancel_fails",
    "queued_seconds",
    "processing_seconds",
    "outcome",
)
_COLUMN_LIST = ", ".join(_COLUMNS)
_TABLES = frozenset({"regions", "tasks", "seed_tasks"})

_TASK_COLUMNS_DDL = """
    region_id          TEXT NOT NULL,
    task_id            TEXT NOT NULL,
    action             TEXT NOT NULL,
    status             TEXT NOT NULL,
    owner              TEXT,
    creation_time      TEXT,
    finished_time      TEXT,
    resource_id        TEXT,
    progress           TEXT,
    cancel_fails       INTEGER NOT NULL CHECK (cancel_fails IN (0, 1)),
    queued_seconds     REAL,
    processing_seconds REAL,
    outcome            TEXT,
    PRIMARY KEY (region_id, task_id)
"""

_SCHEMA = (
    "CREATE TABLE regions (region_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    f"CREATE TABLE tasks ({_TASK_COLUMNS_DDL}) WITHOUT ROWID",
    "CREATE INDEX tasks_by_owner ON tasks (region_id, owner, task_id)",
    f"CREATE TABLE seed_tasks ({_TASK_COLUMNS_DDL}) WITHOUT ROWID",
)

_SELECT_TASK = f"SELECT {_COLUMN_LIST} FROM tasks WHERE region_id = ? AND task_id = ?"
_SELECT_TASKS = (
    f"SELECT {_COLUMN_LIST} FROM tasks INDEXED BY tasks_by_owner"
    " WHERE region_id = ? AND owner IS ? ORDER BY task_id"
)
_INSERT = "INSERT INTO {table} (" + _COLUMN_LIST + ") VALUES (" + ", ".join("?" * 13) + ")"
_UPDATE_IF_UNCHANGED = """
    UPDATE tasks
       SET status = ?, finished_time = ?, progress = ?,
           queued_seconds = NULL, processing_seconds = NULL, outcome = NULL
     WHERE region_id = ? AND task_id = ? AND owner IS ? AND cancel_fails = 0
       AND status = ? AND queued_seconds IS ? AND processing_seconds IS ? AND outcome IS ?
"""

Row = tuple[Any, ...]


class StoreFileError(ValueError):
    """The file cannot be used as a store; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.reason))


def _time_to_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _time_from_text(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _task_to_row(task: Task) -> Row:
    schedule = task.schedule
    return (
        task.region_id,
        task.task_id,
        task.action.value,
        task.status.value,
        task.owner,
        _time_to_text(task.creation_time),
        _time_to_text(task.finished_time),
        task.resource_id,
        task.progress,
        1 if task.cancel_fails else 0,
        None if schedule is None else schedule.queued_seconds,
        None if schedule is None else schedule.processing_seconds,
        None if schedule is None else schedule.outcome.value,
    )


def _task_from_row(row: Row) -> Task:
    schedule = None
    if row[10] is not None:
        schedule = Schedule(
            queued_seconds=row[10], processing_seconds=row[11], outcome=TaskStatus(row[12])
        )
    return Task(
        region_id=row[0],
        task_id=row[1],
        action=row[2],
        status=row[3],
        owner=row[4],
        creation_time=_time_from_text(row[5]),
        finished_time=_time_from_text(row[6]),
        resource_id=row[7],
        progress=row[8],
        cancel_fails=bool(row[9]),
        schedule=schedule,
    )


class _Handle:
    """One thread's connection; when the thread ends and drops it, the connection closes."""

    __slots__ = ("__weakref__", "conn", "pid")

    def __init__(self, conn: sqlite3.Connection, pid: int) -> None:
        self.conn = conn
        self.pid = pid


def _forget(open_conns: dict[int, sqlite3.Connection], lock: threading.Lock, key: int) -> None:
    with lock:
        conn = open_conns.pop(key, None)
    if conn is not None:
        conn.close()


class _TransactionView:
    """The :class:`~taskcancel.World` that ``decide`` sees inside a cancel's transaction."""

    def __init__(self, store: SqliteStore, conn: sqlite3.Connection) -> None:
        self._store = store
        self._conn = conn
        self.row: Row | None = None

    def has_region(self, region_id: str) -> bool:
        return self._store.has_region(region_id)

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        self.row = self._conn.execute(_SELECT_TASK, (region_id, task_id)).fetchone()
        return None if self.row is None else self._store._task(self.row)


class SqliteStore:
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
        seed_regions = frozenset(ECS_REGIONS if regions is None else regions)
        for region in seed_regions:
            if not isinstance(region, str) or not region:
                raise ValueError(f"region ids must be non-empty strings, got {region!r}")
        seed = _checked(tasks, seed_regions)
        self.clock: Clock = clock or system_clock
        self._synchronous = synchronous
        self._timeout = timeout
        self._closed = False
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._open: dict[int, sqlite3.Connection] = {}
        self._keys = itertools.count()
        self._local = threading.local()
        self._regions: frozenset[str] = frozenset()
        #: True if this store created the file and seeded it with ``tasks`` and
        #: ``regions``; False if it opened a store that already held state (kept as is).
        self.created = False
        try:
            self._regions = self._initialise(
                seed_regions, [task for by_id in seed.values() for task in by_id.values()]
            )
        except BaseException:
            self.close()
            raise

    # -- opening -------------------------------------------------------------------

    def _refuse(self, reason: str) -> StoreFileError:
        return StoreFileError(self._path, reason)

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self._path,
                timeout=self._timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise self._refuse(f"cannot open the store file ({exc})") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException as exc:
            conn.close()
            raise self._unusable(exc) from exc
        return conn

    def _unusable(self, exc: BaseException) -> BaseException:
        """A database error that means the file is unusable, as a :class:`StoreFileError`."""
        if not isinstance(exc, sqlite3.DatabaseError) or getattr(exc, "sqlite_errorname", "") in (
            "SQLITE_BUSY",
            "SQLITE_LOCKED",
        ):
            return exc
        return self._refuse(f"is not a usable taskcancel store ({exc})")

    def _inspect(self, conn: sqlite3.Connection) -> bool:
        """Whether the file is empty (a new store); raises if it is not a usable store."""
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if application_id == 0 and version == 0 and not tables:
            return True
        if application_id != APPLICATION_ID:
            raise self._refuse(
                "is an SQLite database but not a taskcancel store "
                f"(application_id {application_id:#x}); refusing to touch it"
            )
        if version > SCHEMA_VERSION:
            raise self._refuse(
                f"was written by a newer taskcancel (store schema version {version}; this "
                f"version reads up to {SCHEMA_VERSION}); upgrade taskcancel or use another file"
            )
        if version < 1:
            raise self._refuse(f"has an unknown store schema version {version}")
        missing = _TABLES - tables
        if missing:
            raise self._refuse(f"is damaged: missing table(s) {', '.join(sorted(missing))}")
        return False

    def _initialise(self, seed_regions: frozenset[str], seed_tasks: list[Task]) -> frozenset[str]:
        conn = self._connection()
        try:
            if self._inspect(conn):
                self._journal_wal(conn)
                with _transaction(conn, "EXCLUSIVE"):
                    if self._inspect(conn):  # nobody else created it meanwhile
                        self._create(conn, seed_regions, seed_tasks)
                        self.created = True
            else:
                problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
                if problems != ["ok"]:
                    raise self._refuse(f"is corrupt: {'; '.join(map(str, problems[:5]))}")
                self._journal_wal(conn)
            regions = frozenset(row[0] for row in conn.execute("SELECT region_id FROM regions"))
        except sqlite3.DatabaseError as exc:
            raise self._unusable(exc) from exc
        return regions

    def _journal_wal(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise self._refuse(f"cannot use the WAL journal (journal_mode is {mode!r})")

    def _create(
        self, conn: sqlite3.Connection, seed_regions: frozenset[str], seed_tasks: list[Task]
    ) -> None:
        for statement in _SCHEMA:
            conn.execute(statement)
        conn.executemany(
            "INSERT INTO regions (region_id) VALUES (?)", [(r,) for r in sorted(seed_regions)]
        )
        rows = [_task_to_row(task) for task in seed_tasks]
        conn.executemany(_INSERT.format(table="seed_tasks"), rows)
        conn.executemany(_INSERT.format(table="tasks"), rows)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise ValueError(f"{self!r} is closed")
        pid = os.getpid()
        handle: _Handle | None = getattr(self._local, "handle", None)
        if handle is not None and handle.pid == pid:
            return handle.conn
        if pid != self._pid:  # forked: never touch the parent's connections
            self._pid = pid
            self._lock = threading.Lock()
            self._open = {}
            self._local = threading.local()
        conn = self._connect()
        handle = _Handle(conn, pid)
        with self._lock:
            if self._closed:
                conn.close()
                raise ValueError(f"{self!r} is closed")
            key = next(self._keys)
            self._open[key] = conn
        weakref.finalize(handle, _forget, self._open, self._lock, key)
        self._local.handle = handle
        return conn

    def _task(self, row: Row) -> Task:
        try:
            return _task_from_row(row)
        except (TypeError, ValueError) as exc:
            raise self._refuse(f"holds an invalid task {row[:2]!r}: {exc}") from exc

    # -- the Store protocol ----------------------------------------------------------

    @property
    def path(self) -> str:
        """The store file."""
        return self._path

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<SqliteStore {self._path!r}{state}>"

    def __len__(self) -> int:
        count: int = self._connection().execute("SELECT count(*) FROM tasks").fetchone()[0]
        return count

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def has_region(self, region_id: str) -> bool:
        return region_id in self._regions

    def regions(self) -> frozenset[str]:
        return self._regions

    def find_task(self, region_id: str, task_id: str) -> Task | None:
        """The task as stored (its schedule not yet applied), or ``None``."""
        row = self._connection().execute(_SELECT_TASK, (region_id, task_id)).fetchone()
        return None if row is None else self._task(row)

    def get_task(self, region_id: str, task_id: str, *, account: str | None) -> Task | None:
        """The task as it stands now, if ``account`` may see it."""
        task = self.find_task(region_id, task_id)
        if task is None or task.owner != account:
            return None
        return task_at(task, self.clock())

    def list_tasks(self, region_id: str, *, account: str | None) -> list[Task]:
        """The account's tasks in a region as they stand now, by task id."""
        now = self.clock()
        rows = self._connection().execute(_SELECT_TASKS, (region_id, account)).fetchall()
        return [task_at(self._task(row), now) for row in rows]

    def add_task(self, task: Task) -> None:
        """Add a task; refuses an unknown region or a duplicate (region, task id)."""
        _checked([task], self._regions)
        try:
            self._connection().execute(_INSERT.format(table="tasks"), _task_to_row(task))
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorname", "") != "SQLITE_CONSTRAINT_PRIMARYKEY":
                raise
            raise ValueError(
                f"duplicate task {task.task_id!r} in region {task.region_id!r}"
            ) from None

    def set_cancel_fails(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Fault injection: make cancelling this task fail with CANCEL_FAILED."""
        cursor = self._connection().execute(
            "UPDATE tasks SET cancel_fails = ? WHERE region_id = ? AND task_id = ?",
            (1 if fails else 0, region_id, task_id),
        )
        if cursor.rowcount != 1:
            raise KeyError(f"no task {task_id!r} in region {region_id!r}")

    def cancel(
        self,
        request: CancelRequest,
        *,
        account: str | None = None,
        policy: Policy = DEFAULT_POLICY,
    ) -> Decision:
        """Decide and apply atomically. ``Accepted.task`` is the task after the cancel."""
        conn = self._connection()
        with _transaction(conn, "IMMEDIATE"):
            now = self.clock()
            view = _TransactionView(self, conn)
            decided = decide(request, view, account=account, policy=policy, now=now)
            decision = apply_cancel(decided, now)
            if not isinstance(decision, Accepted) or view.row is None:
                return decision
            done = decision.task
            row = view.row
            cursor = conn.execute(
                _UPDATE_IF_UNCHANGED,
                (
                    done.status.value,
                    _time_to_text(done.finished_time),
                    done.progress,
                    *row[:2],  # region_id, task_id
                    row[4],  # owner
                    row[3],  # status
                    *row[10:13],  # schedule
                ),
            )
            if cursor.rowcount == 1:
                return Accepted(done)
            # Unreachable while BEGIN IMMEDIATE holds the write lock from the read to the
            # write; kept as the guard the contract names: the task changed underneath.
            return Rejected(Reason.CANCEL_FAILED)

    def reset(self) -> None:
        """Restore the world the store file was created with."""
        conn = self._connection()
        with _transaction(conn, "IMMEDIATE"):
            conn.execute("DELETE FROM tasks")
            conn.execute(
                f"INSERT INTO tasks ({_COLUMN_LIST}) SELECT {_COLUMN_LIST} FROM seed_tasks"
            )

    def close(self) -> None:
        """Close every connection this store opened. Idempotent."""
        self._closed = True
        with self._lock:
            conns = list(self._open.values())
            self._open.clear()
        for conn in conns:
            conn.close()


@contextmanager
def _transaction(conn: sqlite3.Connection, mode: str) -> Iterator[None]:
    """``BEGIN <mode>`` ... ``COMMIT``; ``ROLLBACK`` if the body raises."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
