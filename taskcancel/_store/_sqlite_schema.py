"""The SQLite store's file format: schema, statements, and task <-> row, checked field by field.

Schema version :data:`SCHEMA_VERSION` (in ``PRAGMA user_version``; the file is marked
as a taskcancel store by ``PRAGMA application_id``)::

    regions      (region_id TEXT PRIMARY KEY)                       -- the world's regions
    seed_regions (region_id TEXT PRIMARY KEY)                       -- what reset() restores
    tasks        (region_id, task_id, action, status, owner,        -- the world
                  creation_time, finished_time, resource_id, progress,
                  cancel_fails, queued_seconds, processing_seconds, outcome,
                  PRIMARY KEY (region_id, task_id))
    seed_tasks   (same columns as tasks)                            -- what reset() restores
    task_counts  (region_id, owner_key, n)                          -- tasks per account and
                                                                    -- region, kept by triggers

``tasks_by_owner`` indexes ``tasks (region_id, owner, task_id)``, so a page of an
account's tasks is an index range; ``task_counts`` is kept by triggers in the same
transaction as every insert and delete, so the quota check reads one row and stays
exact across processes. ``owner_key`` is ``''`` for the anonymous account (``NULL``
owner) and ``'=' || owner`` otherwise.

Times are UTC ISO-8601 text with microseconds (``2026-11-27T10:00:00.000000Z``);
enums are their wire strings; a task without a schedule has NULL schedule columns.
Version 1 (no ``seed_regions``, no ``task_counts``) is upgraded in place on open.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from typing import Any

from .._core._model import Schedule, Task, TaskAction, TaskStatus, check_progress
from .._core._text import shown

__all__ = [
    "APPLICATION_ID",
    "CANCEL_IF_UNCHANGED",
    "COLUMN_LIST",
    "COUNT_OWNED",
    "HAS_REGION",
    "INSERT",
    "OBJECTS",
    "RESET",
    "SCHEMA_VERSION",
    "SELECT_AMONG",
    "SELECT_PAGE",
    "SELECT_TASK",
    "SELECT_TASKS",
    "UPDATE_TASK",
    "Row",
    "RowError",
    "create_schema",
    "task_from_row",
    "task_to_row",
    "time_to_text",
    "upgrade_from_1",
]

#: The store schema this version writes, and the newest it reads.
SCHEMA_VERSION = 2

#: ``PRAGMA application_id`` of a taskcancel store ("TkCn").
APPLICATION_ID = 0x546B436E

Row = tuple[Any, ...]

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
COLUMN_LIST = ", ".join(_COLUMNS)
INSERT = "INSERT INTO {table} (" + COLUMN_LIST + ") VALUES (" + ", ".join("?" * 13) + ")"

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

# -- statements the store runs ----------------------------------------------------

SELECT_TASKS = f"SELECT {COLUMN_LIST} FROM tasks"
SELECT_TASK = f"{SELECT_TASKS} WHERE region_id = ? AND task_id = ?"
#: A page of an account's tasks: ``(region_id, owner, limit, offset)``. The first id of
#: the page is found by skipping ``offset`` entries of the covering index alone (no
#: table lookups), then the page is one index range from there.
SELECT_PAGE = (
    f"{SELECT_TASKS} INDEXED BY tasks_by_owner WHERE region_id = ?1 AND owner IS ?2"
    " AND task_id >= (SELECT task_id FROM tasks INDEXED BY tasks_by_owner"
    " WHERE region_id = ?1 AND owner IS ?2 ORDER BY task_id LIMIT 1 OFFSET ?4)"
    " ORDER BY task_id LIMIT ?3"
)
SELECT_AMONG = f"{SELECT_TASKS} WHERE region_id = ? AND owner IS ? AND task_id IN ({{}}) ORDER BY 2"
COUNT_OWNED = "SELECT n FROM task_counts WHERE region_id = ? AND owner_key = ?"
HAS_REGION = "SELECT 1 FROM regions WHERE region_id = ?"
UPDATE_TASK = (
    "UPDATE tasks SET action = ?, status = ?, creation_time = ?, finished_time = ?,"
    " resource_id = ?, progress = ?, cancel_fails = ?, queued_seconds = ?,"
    " processing_seconds = ?, outcome = ? WHERE region_id = ? AND task_id = ?"
)
CANCEL_IF_UNCHANGED = """
    UPDATE tasks
       SET status = ?, finished_time = ?, progress = ?,
           queued_seconds = NULL, processing_seconds = NULL, outcome = NULL
     WHERE region_id = ? AND task_id = ? AND owner IS ? AND cancel_fails = 0
       AND status = ? AND queued_seconds IS ? AND processing_seconds IS ? AND outcome IS ?
"""
RESET = (
    "DELETE FROM regions",
    "INSERT INTO regions SELECT region_id FROM seed_regions",
    "DELETE FROM tasks",
    f"INSERT INTO tasks ({COLUMN_LIST}) SELECT {COLUMN_LIST} FROM seed_tasks",
)


_KEY = "ifnull('=' || {row}.owner, '')"
_COUNTS = (
    "CREATE TABLE task_counts (region_id TEXT NOT NULL, owner_key TEXT NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (region_id, owner_key)) WITHOUT ROWID",
    "CREATE TRIGGER tasks_counted AFTER INSERT ON tasks BEGIN"
    " INSERT INTO task_counts VALUES (NEW.region_id, " + _KEY.format(row="NEW") + ", 1)"
    " ON CONFLICT (region_id, owner_key) DO UPDATE SET n = n + 1; END",
    "CREATE TRIGGER tasks_uncounted AFTER DELETE ON tasks BEGIN"
    " UPDATE task_counts SET n = n - 1 WHERE region_id = OLD.region_id"
    " AND owner_key = " + _KEY.format(row="OLD") + "; END",
    "CREATE TRIGGER tasks_recounted AFTER UPDATE OF region_id, owner ON tasks BEGIN"
    " UPDATE task_counts SET n = n - 1 WHERE region_id = OLD.region_id"
    " AND owner_key = " + _KEY.format(row="OLD") + ";"
    " INSERT INTO task_counts VALUES (NEW.region_id, " + _KEY.format(row="NEW") + ", 1)"
    " ON CONFLICT (region_id, owner_key) DO UPDATE SET n = n + 1; END",
)
_SEED_REGIONS = "CREATE TABLE seed_regions (region_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID"
_SCHEMA = (
    "CREATE TABLE regions (region_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    _SEED_REGIONS,
    f"CREATE TABLE tasks ({_TASK_COLUMNS_DDL}) WITHOUT ROWID",
    "CREATE INDEX tasks_by_owner ON tasks (region_id, owner, task_id)",
    f"CREATE TABLE seed_tasks ({_TASK_COLUMNS_DDL}) WITHOUT ROWID",
    *_COUNTS,
)

#: Every table, index and trigger a store of this version has.
OBJECTS = frozenset(
    {"regions", "seed_regions", "tasks", "tasks_by_owner", "seed_tasks", "task_counts"}
    | {"tasks_counted", "tasks_uncounted", "tasks_recounted"}
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create every table of an empty store (inside the caller's transaction)."""
    for statement in _SCHEMA:
        conn.execute(statement)


def upgrade_from_1(conn: sqlite3.Connection) -> None:
    """Version 1 -> 2, inside the caller's transaction: seed regions and task counts."""
    conn.execute(_SEED_REGIONS)
    conn.execute("INSERT INTO seed_regions SELECT region_id FROM regions")
    for statement in _COUNTS:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO task_counts SELECT region_id, " + _KEY.format(row="tasks") + ", count(*)"
        " FROM tasks GROUP BY 1, 2"
    )
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class RowError(ValueError):
    """A row taskcancel cannot read: ``field`` and ``reason`` say which and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def time_to_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _time(row: Row, i: int) -> datetime | None:
    text = row[i]
    if text is None:
        return None
    if isinstance(text, str) and text.endswith("Z"):
        try:
            value = datetime.fromisoformat(text[:-1])
        except ValueError:
            pass
        else:
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
    raise RowError(_COLUMNS[i], f"{shown(text)} is not a UTC time like 2026-11-27T10:00:00Z")


def _text(row: Row, i: int) -> Any:
    value = row[i]
    if not isinstance(value, str) or not value:
        raise RowError(_COLUMNS[i], f"must be a non-empty string, got {shown(value)}")
    return value


def _optional_text(row: Row, i: int) -> Any:
    value = row[i]
    if value is not None and not isinstance(value, str):
        raise RowError(_COLUMNS[i], f"must be a string or NULL, got {shown(value)}")
    return value


def _enum(row: Row, i: int, kind: type[TaskAction] | type[TaskStatus]) -> Any:
    try:
        return kind(row[i])
    except ValueError:
        known = ", ".join(member.value for member in kind)
        raise RowError(_COLUMNS[i], f"{shown(row[i])} is not one of {known}") from None


def _seconds(row: Row, i: int) -> float:
    value = row[i]
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise RowError(_COLUMNS[i], f"must be a number of seconds >= 0, got {shown(value)}")
    return float(value)


def _schedule(row: Row) -> Schedule | None:
    if row[10] is None and row[11] is None and row[12] is None:
        return None
    queued, processing = _seconds(row, 10), _seconds(row, 11)
    outcome = _enum(row, 12, TaskStatus)
    try:
        return Schedule(queued_seconds=queued, processing_seconds=processing, outcome=outcome)
    except ValueError as exc:
        field = "outcome" if "outcome" in str(exc) else "processing_seconds"
        raise RowError(field, str(exc)) from None


def task_from_row(row: Row) -> Task:
    """The task a row holds; :class:`RowError` names the first field it cannot read."""
    progress = _optional_text(row, 8)
    if progress is not None:
        try:
            check_progress(progress)
        except ValueError as exc:
            raise RowError("progress", str(exc)) from None
    if type(row[9]) is not int or row[9] not in (0, 1):
        raise RowError("cancel_fails", f"must be 0 or 1, got {shown(row[9])}")
    schedule = _schedule(row)
    creation_time = _time(row, 5)
    if schedule is not None and creation_time is None:
        raise RowError("creation_time", "a task with a schedule needs one")
    return Task(
        region_id=_text(row, 0),
        task_id=_text(row, 1),
        action=_enum(row, 2, TaskAction),
        status=_enum(row, 3, TaskStatus),
        owner=_optional_text(row, 4),
        creation_time=creation_time,
        finished_time=_time(row, 6),
        resource_id=_optional_text(row, 7),
        progress=progress,
        cancel_fails=bool(row[9]),
        schedule=schedule,
    )


def task_to_row(task: Task) -> Row:
    schedule = task.schedule
    return (
        task.region_id,
        task.task_id,
        task.action.value,
        task.status.value,
        task.owner,
        time_to_text(task.creation_time),
        time_to_text(task.finished_time),
        task.resource_id,
        task.progress,
        1 if task.cancel_fails else 0,
        None if schedule is None else schedule.queued_seconds,
        None if schedule is None else schedule.processing_seconds,
        None if schedule is None else schedule.outcome.value,
    )
