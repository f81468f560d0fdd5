"""MemoryStore: building a world, adding tasks, fault injection, reset, clocks, threads."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskcancel import (
    ECS_REGIONS,
    Accepted,
    CancelRequest,
    MemoryStore,
    Reason,
    Rejected,
    Schedule,
    Store,
    Task,
    TaskStatus,
)
from taskcancel.testing import FakeClock

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HZ = "cn-hangzhou"
SH = "cn-shanghai"


def running(task_id: str, region_id: str = HZ, **kw: Any) -> Task:
    return Task(
        task_id=task_id, region_id=region_id, action="ImportImage", status="Processing", **kw
    )


def test_regions_none_means_the_builtin_ecs_list() -> None:
    store = MemoryStore()
    assert store.has_region(HZ)
    assert store.has_region("us-east-1")
    assert store.regions() == ECS_REGIONS
    assert HZ in ECS_REGIONS
    assert not store.has_region("xx-nowhere-1")
    assert not store.has_region("")
    assert len(store) == 0


def test_explicit_regions_replace_the_builtin_list() -> None:
    store = MemoryStore(regions=["lab-1", "lab-2"])
    assert store.regions() == frozenset({"lab-1", "lab-2"})
    assert not store.has_region(HZ)
    empty = MemoryStore(regions=[])
    assert empty.regions() == frozenset()


@pytest.mark.parametrize("bad", ["", None, 7])
def test_bad_region_ids_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError, match="region"):
        MemoryStore(regions=[HZ, bad])


def test_duplicate_tasks_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError) as info:
        MemoryStore([running("t-dup"), running("t-other"), running("t-dup")])
    assert "duplicate" in str(info.value)
    assert "t-dup" in str(info.value)
    assert HZ in str(info.value)


def test_same_task_id_in_two_regions_is_two_tasks() -> None:
    store = MemoryStore([running("t-1", HZ), running("t-1", SH, owner="x")])
    assert len(store) == 2
    hz, sh = store.find_task(HZ, "t-1"), store.find_task(SH, "t-1")
    assert hz is not None and hz.owner is None
    assert sh is not None and sh.owner == "x"


def test_tasks_in_unknown_regions_are_refused_naming_the_region() -> None:
    with pytest.raises(ValueError) as info:
        MemoryStore([running("t-1", "xx-nowhere-1")])
    assert "xx-nowhere-1" in str(info.value)
    assert "t-1" in str(info.value)
    with pytest.raises(ValueError, match=HZ):
        MemoryStore([running("t-1", HZ)], regions=[SH])


def test_non_tasks_are_refused() -> None:
    with pytest.raises(TypeError, match="Task"):
        MemoryStore([{"TaskId": "t-1"}])  # type: ignore[list-item]


def test_tasks_may_be_any_iterable() -> None:
    store = MemoryStore(running(f"t-{i}") for i in range(5))
    assert len(store) == 5
    assert [t.task_id for t in store.list_tasks(HZ, account=None)] == [f"t-{i}" for i in range(5)]


def test_add_task() -> None:
    store = MemoryStore([running("t-1")])
    store.add_task(running("t-2", SH, owner="a"))
    assert len(store) == 2
    assert store.find_task(SH, "t-2") == running("t-2", SH, owner="a")
    assert store.get_task(SH, "t-2", account="a") is not None
    assert store.get_task(SH, "t-2", account=None) is None
    assert isinstance(store.cancel(CancelRequest(SH, "t-2"), account="a"), Accepted)


def test_add_task_refuses_duplicates_and_unknown_regions_without_changing_anything() -> None:
    original = running("t-1")
    store = MemoryStore([original], regions=[HZ, SH])
    with pytest.raises(ValueError, match="duplicate"):
        store.add_task(Task(task_id="t-1", region_id=HZ, action="ExportImage", status="Waiting"))
    assert store.find_task(HZ, "t-1") == original
    with pytest.raises(ValueError, match="us-east-1"):
        store.add_task(running("t-9", "us-east-1"))
    with pytest.raises(TypeError):
        store.add_task("t-9")  # type: ignore[arg-type]
    assert len(store) == 1


def test_reset_restores_the_initial_world_after_cancels() -> None:
    tasks = [running(f"t-{i}") for i in range(4)]
    store = MemoryStore(tasks)
    for i in range(3):
        assert isinstance(store.cancel(CancelRequest(HZ, f"t-{i}")), Accepted)
    store.set_cancel_fails(HZ, "t-3")
    store.add_task(running("t-new"))
    assert [t.status for t in store.list_tasks(HZ, account=None)].count(TaskStatus.DELETED) == 3
    store.reset()
    assert store.list_tasks(HZ, account=None) == sorted(tasks, key=lambda t: t.task_id)
    assert store.find_task(HZ, "t-new") is None
    assert len(store) == 4
    # reset twice, after more cancels: still the initial world
    assert isinstance(store.cancel(CancelRequest(HZ, "t-3")), Accepted)
    store.reset()
    assert store.find_task(HZ, "t-3") == tasks[3]


def test_set_cancel_fails_on_an_unknown_task_is_a_key_error() -> None:
    store = MemoryStore([running("t-1")])
    with pytest.raises(KeyError, match="t-2"):
        store.set_cancel_fails(HZ, "t-2")
    with pytest.raises(KeyError):
        store.set_cancel_fails(SH, "t-1")


def test_cancel_fails_then_cleared() -> None:
    store = MemoryStore([running("t-1")])
    store.set_cancel_fails(HZ, "t-1")
    assert store.cancel(CancelRequest(HZ, "t-1")) == Rejected(Reason.CANCEL_FAILED)
    task = store.find_task(HZ, "t-1")
    assert task is not None and task.status is TaskStatus.PROCESSING
    store.set_cancel_fails(HZ, "t-1", False)
    assert isinstance(store.cancel(CancelRequest(HZ, "t-1")), Accepted)


def test_get_and_list_respect_the_account_and_sort_by_id() -> None:
    store = MemoryStore(
        [
            running("t-c", owner="a"),
            running("t-a", owner="a"),
            running("t-b", owner="b"),
            running("t-d"),
            running("t-e", SH, owner="a"),
        ]
    )
    assert [t.task_id for t in store.list_tasks(HZ, account="a")] == ["t-a", "t-c"]
    assert [t.task_id for t in store.list_tasks(HZ, account="b")] == ["t-b"]
    assert [t.task_id for t in store.list_tasks(HZ, account=None)] == ["t-d"]
    assert store.list_tasks("xx-nowhere-1", account="a") == []
    assert store.get_task(HZ, "t-b", account="a") is None
    assert store.get_task(HZ, "t-b", account="b") is not None
    assert store.get_task(HZ, "t-e", account="a") is None


def test_the_injected_clock_drives_schedules_and_finished_time() -> None:
    clock = FakeClock(T0)
    task = Task(
        task_id="t-1",
        region_id=HZ,
        action="ImportImage",
        status="Waiting",
        creation_time=T0,
        schedule=Schedule(queued_seconds=30, processing_seconds=60),
    )
    store = MemoryStore([task], clock=clock)
    assert store.clock is clock
    seen = store.get_task(HZ, "t-1", account=None)
    assert seen is not None and seen.status is TaskStatus.WAITING
    assert store.cancel(CancelRequest(HZ, "t-1")) == Rejected(Reason.INCORRECT_TASK_STATUS)
    clock.set(T0 + timedelta(seconds=60))
    listed = store.list_tasks(HZ, account=None)
    assert [(t.status, t.progress) for t in listed] == [(TaskStatus.PROCESSING, "50%")]
    decision = store.cancel(CancelRequest(HZ, "t-1"))
    assert isinstance(decision, Accepted)
    assert decision.task.finished_time == T0 + timedelta(seconds=60)
    # find_task is the stored task: now cancelled for good
    stored = store.find_task(HZ, "t-1")
    assert stored is not None and stored.status is TaskStatus.DELETED


def test_default_clock_is_real_utc_time() -> None:
    store = MemoryStore([running("t-1")])
    decision = store.cancel(CancelRequest(HZ, "t-1"))
    assert isinstance(decision, Accepted)
    finished = decision.task.finished_time
    assert finished is not None
    assert finished.utcoffset() == timedelta(0)
    assert finished.year >= 2024


def test_memory_store_satisfies_the_store_protocol() -> None:
    store: Store = MemoryStore()
    for name in (
        "has_region",
        "find_task",
        "regions",
        "get_task",
        "list_tasks",
        "add_task",
        "set_cancel_fails",
        "cancel",
        "reset",
        "close",
    ):
        assert callable(getattr(store, name))
    store.close()


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a missing lock shows up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def yielding_clock() -> datetime:
    time.sleep(0)  # give up the GIL inside the store's critical section
    return T0


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_add_task_of_the_same_task_admits_exactly_one() -> None:
    store = MemoryStore()
    threads = 24
    barrier = threading.Barrier(threads)
    results: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        try:
            store.add_task(running("t-race"))
        except ValueError:
            outcome = "dup"
        else:
            outcome = "ok"
        with lock:
            results.append(outcome)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sorted(results) == ["dup"] * (threads - 1) + ["ok"]
    assert len(store) == 1


@pytest.mark.usefixtures("busy_switching")
def test_concurrent_store_cancels_of_one_task_accept_exactly_one() -> None:
    store = MemoryStore([running("t-1")], clock=yielding_clock)
    threads = 32
    barrier = threading.Barrier(threads)
    decisions: list[object] = []
    lock = threading.Lock()

    def worker() -> None:
        barrier.wait()
        decision = store.cancel(CancelRequest(HZ, "t-1"))
        with lock:
            decisions.append(decision)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    accepted = [d for d in decisions if isinstance(d, Accepted)]
    assert len(accepted) == 1
    assert decisions.count(Rejected(Reason.INCORRECT_TASK_STATUS)) == threads - 1
