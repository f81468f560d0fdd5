"""Opening an SQLite store file: per-thread connections, checks, creation and upgrade.

:class:`Connections` gives each thread (and each process, after a fork) its own
connection to one file. :func:`open_store` makes the file a store: it creates and
seeds an empty file, upgrades an older schema in place, and refuses -- with
:class:`StoreFileError`, never touching the file -- anything it cannot use: not SQLite,
another application's database, a newer schema, a damaged or corrupt file, or a row
taskcancel cannot read (``FILE: table row N: field: reason``).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

from .._core._model import Task
from .._core._text import shown
from .._store._sqlite_schema import (
    APPLICATION_ID,
    COLUMN_LIST,
    INSERT,
    OBJECTS,
    SCHEMA_VERSION,
    RowError,
    create_schema,
    task_from_row,
    task_to_row,
    upgrade_from_1,
)

__all__ = ["Connections", "StoreFileError", "open_store", "transaction"]

#: The tables whose rows are checked on open, each with the regions its tasks must be in.
_CHECKED = (("tasks", "regions"), ("seed_tasks", "seed_regions"))


class StoreFileError(ValueError):
    """The file cannot be used as a store; ``path`` and ``reason`` say which and why."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.reason))


@contextmanager
def transaction(conn: sqlite3.Connection, mode: str) -> Iterator[None]:
    """``BEGIN <mode>`` ... ``COMMIT``; ``ROLLBACK`` if the body raises."""
    conn.execute(f"BEGIN {mode}")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def unusable(path: str, exc: BaseException) -> BaseException:
    """A database error that means the file is unusable, as a :class:`StoreFileError`."""
    if not isinstance(exc, sqlite3.DatabaseError) or getattr(exc, "sqlite_errorname", "") in (
        "SQLITE_BUSY",
        "SQLITE_LOCKED",
    ):
        return exc
    return StoreFileError(path, f"is not a usable taskcancel store ({exc})")


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


class Connections:
    """One connection per thread to ``path``, opened on first use; :meth:`close` ends all."""

    def __init__(self, path: str, *, timeout: float, synchronous: str) -> None:
        self.path = path
        self.closed = False
        self._timeout = timeout
        self._synchronous = synchronous
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._open: dict[int, sqlite3.Connection] = {}
        self._keys = itertools.count()
        self._local = threading.local()

    def _closed_error(self) -> ValueError:
        return ValueError(f"the SQLite store {self.path!r} is closed")

    def get(self) -> sqlite3.Connection:
        """This thread's connection."""
        if self.closed:
            raise self._closed_error()
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
            if self.closed:
                conn.close()
                raise self._closed_error()
            key = next(self._keys)
            self._open[key] = conn
        weakref.finalize(handle, _forget, self._open, self._lock, key)
        self._local.handle = handle
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=self._timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreFileError(self.path, f"cannot open the store file ({exc})") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._timeout * 1000)}")
            conn.execute(f"PRAGMA synchronous = {self._synchronous}")
        except BaseException as exc:
            conn.close()
            raise unusable(self.path, exc) from exc
        return conn

    def close(self) -> None:
        """Close every connection. Idempotent."""
        self.closed = True
        with self._lock:
            conns = list(self._open.values())
            self._open.clear()
        for conn in conns:
            conn.close()


def _inspect(conn: sqlite3.Connection, path: str) -> int:
    """The file's schema version, 0 if it is empty; raises if it is not a usable store."""
    application_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    if application_id == 0 and version == 0 and not names:
        return 0
    if application_id != APPLICATION_ID:
        raise StoreFileError(
            path,
            "is an SQLite database but not a taskcancel store "
            f"(application_id {application_id:#x}); refusing to touch it",
        )
    if version > SCHEMA_VERSION:
        raise StoreFileError(
            path,
            f"was written by a newer taskcancel (store schema version {version}; this "
            f"version reads up to {SCHEMA_VERSION}); upgrade taskcancel or use another file",
        )
    if version < 1:
        raise StoreFileError(path, f"has an unknown store schema version {version}")
    expected = OBJECTS if version == SCHEMA_VERSION else {"regions", "tasks", "seed_tasks"}
    missing = expected - names
    if missing:
        raise StoreFileError(path, f"is damaged: missing {', '.join(sorted(missing))}")
    return version


def open_store(
    conn: sqlite3.Connection, path: str, seed_regions: frozenset[str], seed_tasks: list[Task]
) -> bool:
    """Make the file a usable store; True if it was empty and is now seeded."""
    try:
        if _inspect(conn, path) == 0:
            _journal_wal(conn, path)
            with transaction(conn, "EXCLUSIVE"):
                if _inspect(conn, path) == 0:  # nobody else created it meanwhile
                    _create(conn, seed_regions, seed_tasks)
                    return True
            return False
        # A violated CHECK is a row taskcancel cannot read: _check_rows names it exactly.
        problems = [
            row[0]
            for row in conn.execute("PRAGMA quick_check")
            if not str(row[0]).startswith("CHECK constraint failed")
        ]
        if problems not in (["ok"], []):
            raise StoreFileError(path, f"is corrupt: {'; '.join(map(str, problems[:5]))}")
        _journal_wal(conn, path)
        if _inspect(conn, path) < SCHEMA_VERSION:
            with transaction(conn, "EXCLUSIVE"):
                if _inspect(conn, path) == 1:
                    upgrade_from_1(conn)
        _check_rows(conn, path)
    except sqlite3.DatabaseError as exc:
        raise unusable(path, exc) from exc
    return False


def _check_rows(conn: sqlite3.Connection, path: str) -> None:
    """Refuse the file if any row cannot be read: ``table row N: field: reason``.

    Rows are numbered from 1 in primary-key order (region, then task id).
    """
    for table, regions_table in _CHECKED:
        regions: set[str] = set()
        for n, (region,) in enumerate(conn.execute(f"SELECT * FROM {regions_table}"), 1):
            if not isinstance(region, str) or not region:
                raise StoreFileError(
                    path,
                    f"{regions_table} row {n}: region_id: must be a non-empty string, "
                    f"got {shown(region)}",
                )
            regions.add(region)
        rows = conn.execute(f"SELECT {COLUMN_LIST} FROM {table} ORDER BY 1, 2")
        for n, row in enumerate(rows, 1):
            try:
                task = task_from_row(row)
                if task.region_id not in regions:
                    raise RowError("region_id", f"{shown(row[0])} is not in {regions_table}")
            except RowError as exc:
                raise StoreFileError(path, f"{table} row {n}: {exc}") from None


def _journal_wal(conn: sqlite3.Connection, path: str) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreFileError(path, f"cannot use the WAL journal (journal_mode is {mode!r})")


def _create(conn: sqlite3.Connection, seed_regions: frozenset[str], seed_tasks: list[Task]) -> None:
    create_schema(conn)
    region_rows = [(r,) for r in sorted(seed_regions)]
    conn.executemany("INSERT INTO regions (region_id) VALUES (?)", region_rows)
    conn.executemany("INSERT INTO seed_regions (region_id) VALUES (?)", region_rows)
    rows = [task_to_row(task) for task in seed_tasks]
    conn.executemany(INSERT.format(table="seed_tasks"), rows)
    conn.executemany(INSERT.format(table="tasks"), rows)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
