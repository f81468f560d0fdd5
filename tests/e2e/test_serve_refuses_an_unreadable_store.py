"""``serve --store FILE`` refuses a store holding a row taskcancel cannot read: exit 2,
the ``FILE: table row N: field: reason`` message, no traceback. (The store's own refusal
is in tests/unit/store/test_store_sqlite_rows.py.)
"""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from support.serve import clean_env, taskcancel_command

from taskcancel import Schedule, SqliteStore, Task, TaskAction, TaskStatus

HANGZHOU = "cn-hangzhou"


def task(task_id: str, **fields: Any) -> Task:
    fields.setdefault("region_id", HANGZHOU)
    fields.setdefault("action", TaskAction.IMPORT_IMAGE)
    fields.setdefault("status", TaskStatus.PROCESSING)
    return Task(task_id=task_id, **fields)


def store_file(path: Path) -> Path:
    """A store of three tasks, ``t-1`` (scheduled), ``t-2`` and ``t-3``, closed."""
    from datetime import UTC, datetime

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


def test_serve_refuses_such_a_store_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = store_file(tmp_path / "store.db")
    tamper(path, "UPDATE tasks SET creation_time = ? WHERE task_id = 't-2'", "garbage")
    result = subprocess.run(
        taskcancel_command("serve", "--port", "0", "--store", str(path)),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}: tasks row 2: creation_time: 'garbage' is not a UTC time" in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout
