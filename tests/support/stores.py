"""Store files for the tests of reading them back: a small store on disk, and a way to
write a row into it that taskcancel would never write."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from taskcancel import Schedule, SqliteStore, Task, TaskAction, TaskStatus

__all__ = ["HANGZHOU", "store_file", "tamper", "task"]

HANGZHOU = "cn-hangzhou"


def task(task_id: str, **fields: Any) -> Task:
    fields.setdefault("region_id", HANGZHOU)
    fields.setdefault("action", TaskAction.IMPORT_IMAGE)
    fields.setdefault("status", TaskStatus.PROCESSING)
    return Task(task_id=task_id, **fields)


def store_file(path: Path) -> Path:
    """A store of three tasks, ``t-1`` (scheduled), ``t-2`` and ``t-3``, closed."""
    created = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    seed = [
        task("t-1", creation_time=created, schedule=Schedule(processing_seconds=60)),
        task("t-2", owner="alice", creation_time=created, progress="40%"),
        task("t-3"),
    ]
    SqliteStore(path, seed, regions=[HANGZHOU, "cn-shanghai"]).close()
    return path


def tamper(path: Path, statement: str, *args: object) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute(statement, args)
    conn.commit()
    conn.close()
