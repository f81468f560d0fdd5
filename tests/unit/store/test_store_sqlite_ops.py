"""SqliteStore's control-plane operations beyond the contract: one transaction each, seen by
every connection and process on the file, exact quotas across processes, and the upgrade
of a version-1 file."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from support.stores import HANGZHOU, task

from taskcancel import SqliteStore
from taskcancel._store._sqlite_schema import APPLICATION_ID, INSERT, task_to_row
from taskcancel._store.sqlite import SCHEMA_VERSION

SHANGHAI = "cn-shanghai"


def test_a_replace_is_seen_at_once_by_another_store_on_the_file(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SqliteStore(path, [task("t-1")], regions=[HANGZHOU]) as first, SqliteStore(path) as other:
        assert other.has_region(HANGZHOU)
        first.replace([task("t-2", region_id="lab-1", owner="bob")], regions=["lab-1"])
        assert other.regions() == frozenset({"lab-1"})
        assert not other.has_region(HANGZHOU)
        assert other.count_tasks("lab-1", account="bob") == 1
        other.reset()
        assert first.snapshot() == (frozenset({HANGZHOU}), [task("t-1")])


def test_reset_and_replace_are_each_one_transaction(tmp_path: Path) -> None:
    """A reader on its own connection sees the seed or the replacement, never a mix."""
    path = tmp_path / "store.db"
    seed = [task(f"t-{i:04d}") for i in range(1_500)]
    other = [task(f"x-{i:04d}", region_id="lab-1") for i in range(700)]
    worlds = {(1_500, 1, HANGZHOU), (700, 1, "lab-1")}
    seen: set[tuple[int, int, str]] = set()
    done = threading.Event()

    def read() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            while not done.is_set():
                conn.execute("BEGIN")
                tasks, regions = conn.execute(
                    "SELECT (SELECT count(*) FROM tasks), (SELECT count(*) FROM regions)"
                ).fetchone()
                region = conn.execute("SELECT min(region_id) FROM regions").fetchone()[0]
                conn.execute("COMMIT")
                seen.add((tasks, regions, region))
        finally:
            conn.close()

    with SqliteStore(path, seed, regions=[HANGZHOU]) as store:
        reader = threading.Thread(target=read)
        reader.start()
        try:
            for _ in range(15):
                store.replace(other, regions=["lab-1"])
                store.reset()
        finally:
            done.set()
            reader.join()
    assert seen <= worlds, seen - worlds
    assert seen  # the reader did look


_V1_SCHEMA = (
    "CREATE TABLE regions (region_id TEXT PRIMARY KEY NOT NULL) WITHOUT ROWID",
    "CREATE TABLE {table} (region_id TEXT NOT NULL, task_id TEXT NOT NULL,"
    " action TEXT NOT NULL, status TEXT NOT NULL, owner TEXT, creation_time TEXT,"
    " finished_time TEXT, resource_id TEXT, progress TEXT,"
    " cancel_fails INTEGER NOT NULL CHECK (cancel_fails IN (0, 1)), queued_seconds REAL,"
    " processing_seconds REAL, outcome TEXT, PRIMARY KEY (region_id, task_id)) WITHOUT ROWID",
)


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    seed = [task("t-1", owner="alice"), task("t-2", owner="alice"), task("t-3")]
    conn = sqlite3.connect(path)
    conn.execute(_V1_SCHEMA[0])
    for table in ("tasks", "seed_tasks"):
        conn.execute(_V1_SCHEMA[1].format(table=table))
        conn.executemany(INSERT.format(table=table), [task_to_row(t) for t in seed])
    conn.execute("CREATE INDEX tasks_by_owner ON tasks (region_id, owner, task_id)")
    conn.executemany("INSERT INTO regions VALUES (?)", [(HANGZHOU,), (SHANGHAI,)])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    with SqliteStore(path, [task("ignored")]) as store:
        assert not store.created
        assert store.count_tasks(HANGZHOU, account="alice") == 2
        assert store.create_task(task("t-4", owner="alice"), max_tasks=3)
        assert not store.create_task(task("t-5", owner="alice"), max_tasks=3)
        store.replace([], regions=["lab-1"])
        store.reset()
        assert store.snapshot() == (frozenset({HANGZHOU, SHANGHAI}), seed)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


def test_every_operation_leaves_no_transaction_open(tmp_path: Path) -> None:
    """After each operation another process can take the write lock at once."""
    path = tmp_path / "store.db"
    with SqliteStore(path, [task("t-1")], timeout=0) as store:
        store.snapshot()
        store.page_tasks(HANGZHOU, account=None, offset=0, limit=5, ids=["t-1"])
        store.create_task(task("t-2"), max_tasks=5)
        store.update_task(HANGZHOU, "t-2", progress="5%")
        conn = sqlite3.connect(path, isolation_level=None, timeout=0)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        conn.close()
    with SqliteStore(path) as reopened:
        assert [t.task_id for t in reopened.snapshot()[1]] == ["t-1", "t-2"]
