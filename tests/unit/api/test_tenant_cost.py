"""A request's cost does not grow with the caller's task count.

Counted, never timed: how many tasks cross the store boundary for one DescribeTasks or
ImportImage, how many schedules a page applies, and which indexes SQLite's plans use.
(``benchmarks/bench_tenant.py`` prints the latencies.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import taskcancel._store._base
from taskcancel import MemoryStore, Schedule, SqliteStore, Store, Task, TaskAction, TaskStatus
from taskcancel._store._sqlite_schema import COUNT_OWNED, HAS_REGION, SELECT_AMONG, SELECT_PAGE
from taskcancel.api import IdGenerator
from taskcancel.api._actions import ActionContext, dispatch
from taskcancel.testing import FakeClock

REGION = "cn-hangzhou"
ME = "tenant-a"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
HELD = 3_000
IMPORT = {
    "RegionId": REGION,
    "DiskDeviceMapping.1.OSSBucket": "bucket",
    "DiskDeviceMapping.1.OSSObject": "object",
}


def tenant(count: int = HELD) -> list[Task]:
    """``count`` tasks of mine (every other one scheduled), and a neighbour's."""
    return [
        Task(
            task_id=f"t-{owner[-1]}{i:06d}",
            region_id=REGION,
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner=owner,
            creation_time=T0,
            schedule=Schedule(processing_seconds=3600) if i % 2 else None,
        )
        for owner, number in ((ME, count), ("tenant-b", 50))
        for i in range(number)
    ]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    clock = FakeClock(T0 + timedelta(minutes=10))
    opened: Store
    if request.param == "memory":
        opened = MemoryStore(tenant(), clock=clock)
    else:
        opened = SqliteStore(tmp_path / "store.db", tenant(), clock=clock)
    yield opened
    opened.close()


class Counting:
    """A store wrapper that counts the tasks each call hands back to the actions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.tasks_out = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.store, name)
        if not callable(attribute) or name in ("clock", "has_region"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            result = attribute(*args, **kwargs)
            self.tasks_out += _tasks_in(result)
            return result

        return counted


def _tasks_in(result: object) -> int:
    if isinstance(result, Task):
        return 1
    if isinstance(result, list | tuple):
        return sum(_tasks_in(item) for item in result)
    return 0


def call(store: Any, action: str, params: dict[str, str], **context: Any) -> dict[str, Any]:
    ctx = ActionContext(store=store, account=ME, ids=IdGenerator(1), **context)
    reply = dispatch(ctx, action, params)
    assert isinstance(reply, dict), reply
    return reply


def test_describe_tasks_fetches_only_the_page(store: Store) -> None:
    counting = Counting(store)
    reply = call(counting, "DescribeTasks", {"RegionId": REGION, "PageNumber": "7"})
    assert reply["TotalCount"] == HELD
    assert [t["TaskId"] for t in reply["TaskSet"]["Task"]] == [f"t-a{i:06d}" for i in range(60, 70)]
    assert counting.tasks_out == 10


def test_describe_tasks_by_task_ids_fetches_only_those(store: Store) -> None:
    counting = Counting(store)
    wanted = "t-a000005,t-a002999,t-b000001,t-nope"  # the neighbour's stays invisible
    reply = call(counting, "DescribeTasks", {"RegionId": REGION, "TaskIds": wanted})
    assert reply["TotalCount"] == 2
    assert counting.tasks_out == 2


def test_import_image_counts_the_quota_without_listing(store: Store) -> None:
    counting = Counting(store)
    assert "TaskId" in call(counting, "ImportImage", IMPORT)
    assert counting.tasks_out == 0
    assert store.count_tasks(REGION, account=ME) == HELD + 1


def test_the_quota_is_exact(store: Store) -> None:
    ctx = ActionContext(store=store, account=ME, ids=IdGenerator(2), max_tasks=HELD + 2)
    replies = [dispatch(ctx, "ImportImage", IMPORT) for _ in range(4)]
    assert [isinstance(r, dict) for r in replies] == [True, True, False, False]
    refused = replies[-1]
    assert not isinstance(refused, dict) and refused is not None
    assert (refused.code, refused.http_status) == ("QuotaExceed.Task", 403)
    assert store.count_tasks(REGION, account=ME) == HELD + 2
    assert store.count_tasks(REGION, account="tenant-b") == 50  # nobody else's quota moved


def test_a_page_applies_only_its_own_schedules(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied: list[str] = []
    real: Callable[[Task, datetime | None], Task] = vars(taskcancel._store._base)["task_at"]

    def counted(task: Task, now: datetime | None) -> Task:
        applied.append(task.task_id)
        return real(task, now)

    monkeypatch.setattr(taskcancel._store._base, "task_at", counted)
    total, page = store.page_tasks(REGION, account=ME, offset=2_000, limit=25)
    assert total == HELD
    assert applied == [t.task_id for t in page] == [f"t-a{i:06d}" for i in range(2_000, 2_025)]
    assert (page[1].status, page[1].progress) == (TaskStatus.PROCESSING, "16%")  # scheduled


@pytest.mark.parametrize(
    ("query", "args", "index"),
    [
        (COUNT_OWNED, (REGION, "=" + ME), "task_counts USING PRIMARY KEY"),
        (SELECT_PAGE, (REGION, ME, 10, 2_000), "COVERING INDEX tasks_by_owner"),
        (SELECT_AMONG.format("?, ?"), (REGION, ME, "t-a1", "t-a2"), "PRIMARY KEY"),
        (HAS_REGION, (REGION,), "regions USING PRIMARY KEY"),
    ],
    ids=["count", "page", "among", "region"],
)
def test_sqlite_reads_use_an_index_and_never_scan(
    tmp_path: Path, query: str, args: tuple[object, ...], index: str
) -> None:
    SqliteStore(tmp_path / "store.db", tenant(100)).close()
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        plan = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + query, args)]
    finally:
        conn.close()
    assert any(index in step for step in plan), plan
    assert not any(step.startswith("SCAN") for step in plan), plan
