"""The Client over the in-memory transport: cancel, describe, tenancy, errors, threads."""

from __future__ import annotations

import asyncio
import random
import re
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from taskcancel import (
    ApiError,
    AsyncClient,
    CancelRejected,
    Client,
    IncorrectTaskStatus,
    InMemoryTransport,
    MemoryStore,
    MissingParameter,
    Policy,
    Reason,
    RegionNotFound,
    Task,
    TaskAction,
    TaskNotFound,
    TaskStatus,
    Transport,
)

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
HZ = "cn-hangzhou"
SH = "cn-shanghai"
UUID_UPPER = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def task(
    task_id: str, action: str = "ImportImage", status: str = "Processing", **kw: object
) -> Task:
    kw.setdefault("region_id", HZ)
    return Task(task_id=task_id, action=action, status=status, **kw)  # type: ignore[arg-type]


def mixed_world() -> list[Task]:
    """Every action x status in cn-hangzhou for account "a", one minute apart."""
    tasks = []
    n = 0
    for action in TaskAction:
        for status in TaskStatus:
            tasks.append(
                task(
                    f"t-{n:03d}",
                    action.value,
                    status.value,
                    owner="a",
                    creation_time=T0 + timedelta(minutes=n),
                )
            )
            n += 1
    return tasks


# ---------------------------------------------------------------- cancel


def test_cancel_returns_an_upper_case_uuid_request_id_and_cancels() -> None:
    store = MemoryStore([task("t-1")])
    with Client(InMemoryTransport(store)) as client:
        request_id = client.cancel_task(HZ, "t-1")
        assert UUID_UPPER.fullmatch(request_id)
        assert client.describe_task_attribute(HZ, "t-1").status is TaskStatus.DELETED
        with pytest.raises(IncorrectTaskStatus) as info:
            client.cancel_task(HZ, "t-1")
        assert info.value.request_id != request_id


def test_request_ids_are_injectable() -> None:
    ids = iter(["REQ-1", "REQ-2"])
    client = Client(InMemoryTransport(MemoryStore([task("t-1")]), request_ids=lambda: next(ids)))
    assert client.cancel_task(HZ, "t-1") == "REQ-1"
    with pytest.raises(IncorrectTaskStatus) as info:
        client.cancel_task(HZ, "t-1")
    assert info.value.request_id == "REQ-2"


def test_in_memory_transport_is_a_transport() -> None:
    assert isinstance(InMemoryTransport(MemoryStore()), Transport)


def test_transport_policy_is_applied() -> None:
    store = MemoryStore([task("t-1", "RedeployInstance", "Waiting")])
    strict = Client(InMemoryTransport(store))
    with pytest.raises(CancelRejected):
        strict.cancel_task(HZ, "t-1")
    anything = Policy(
        cancellable_actions=frozenset(TaskAction), cancellable_statuses=frozenset(TaskStatus)
    )
    Client(InMemoryTransport(store, policy=anything)).cancel_task(HZ, "t-1")
    assert strict.describe_task_attribute(HZ, "t-1").status is TaskStatus.DELETED


# ---------------------------------------------------------------- tenancy


def test_accounts_are_isolated() -> None:
    store = MemoryStore([task("t-a1", owner="a"), task("t-a2", owner="a"), task("t-b1", owner="b")])
    as_a = Client(InMemoryTransport(store, account="a"))
    as_b = Client(InMemoryTransport(store, account="b"))
    anonymous = Client(InMemoryTransport(store))
    assert [t.task_id for t in as_a.describe_tasks(HZ).tasks] == ["t-a1", "t-a2"]
    assert [t.task_id for t in as_b.describe_tasks(HZ).tasks] == ["t-b1"]
    assert anonymous.describe_tasks(HZ).tasks == ()
    assert as_a.describe_tasks(HZ, task_ids=["t-b1"]).total_count == 0
    with pytest.raises(TaskNotFound):
        as_a.describe_task_attribute(HZ, "t-b1")
    with pytest.raises(TaskNotFound):
        as_a.cancel_task(HZ, "t-b1")
    assert as_b.describe_task_attribute(HZ, "t-b1").status is TaskStatus.PROCESSING
    as_b.cancel_task(HZ, "t-b1")
    assert as_b.describe_task_attribute(HZ, "t-b1").status is TaskStatus.DELETED


# ---------------------------------------------------------------- describe


def test_describe_task_attribute_fields() -> None:
    store = MemoryStore(
        [
            task("t-1", "ExportImage", creation_time=T0, resource_id="m-123", progress="42%"),
            task("t-2", "RedeployInstance"),
            task(
                "t-3",
                "ImportImage",
                "Finished",
                creation_time=T0,
                finished_time=T0 + timedelta(minutes=5),
            ),
        ]
    )
    client = Client(InMemoryTransport(store))
    one = client.describe_task_attribute(HZ, "t-1")
    assert (one.task_id, one.region_id) == ("t-1", HZ)
    assert one.action is TaskAction.EXPORT_IMAGE
    assert one.status is TaskStatus.PROCESSING
    assert one.support_cancel is True
    assert one.creation_time == T0
    assert one.finished_time is None
    assert one.resource_id == "m-123"
    assert one.progress == "42%"
    assert client.describe_task_attribute(HZ, "t-2").support_cancel is False
    done = client.describe_task_attribute(HZ, "t-3")
    assert done.support_cancel is False
    assert done.finished_time == T0 + timedelta(minutes=5)
    assert done.progress == "100%"


def test_describe_task_attribute_errors() -> None:
    client = Client(InMemoryTransport(MemoryStore([task("t-1")]), profile="current"))
    with pytest.raises(MissingParameter):
        client.describe_task_attribute("", "t-1")
    with pytest.raises(MissingParameter):
        client.describe_task_attribute(HZ, "")
    with pytest.raises(RegionNotFound) as info:
        client.describe_task_attribute("xx-nowhere-1", "t-1")
    assert info.value.code == "InvalidRegionId.NotFound"
    with pytest.raises(TaskNotFound):
        client.describe_task_attribute(HZ, "t-2")
    with pytest.raises(TaskNotFound):
        client.describe_task_attribute(SH, "t-1")


def test_describe_tasks_filters() -> None:
    tasks = mixed_world()
    client = Client(InMemoryTransport(MemoryStore(tasks), account="a"))
    everything = client.describe_tasks(HZ, page_size=100)
    assert everything.total_count == len(tasks) == 30
    assert [t.task_id for t in everything.tasks] == sorted(t.task_id for t in tasks)

    by_id = client.describe_tasks(HZ, task_ids=["t-007", "t-003", "t-999"])
    assert [t.task_id for t in by_id.tasks] == ["t-003", "t-007"]
    assert by_id.total_count == 2

    exports = client.describe_tasks(HZ, task_action=TaskAction.EXPORT_IMAGE, page_size=100)
    assert exports.total_count == len(TaskStatus)
    assert {t.action for t in exports.tasks} == {TaskAction.EXPORT_IMAGE}
    assert client.describe_tasks(HZ, task_action="ExportImage").total_count == len(TaskStatus)

    for status in ("Finished", "Processing", "Failed"):
        page = client.describe_tasks(HZ, task_status=status, page_size=100)
        assert page.total_count == len(TaskAction)
        assert {t.status.value for t in page.tasks} == {status}

    both = client.describe_tasks(HZ, task_action="ImportImage", task_status=TaskStatus.PROCESSING)
    assert [(t.action, t.status) for t in both.tasks] == [
        (TaskAction.IMPORT_IMAGE, TaskStatus.PROCESSING)
    ]
    assert both.tasks[0].support_cancel is True
    assert sum(t.support_cancel for t in everything.tasks) == 2  # Import/Export x Processing


def test_describe_tasks_ignores_status_filters_the_api_does_not_accept() -> None:
    # DescribeTasks' TaskStatus filter takes effect only for Finished/Processing/Failed.
    tasks = mixed_world()
    client = Client(InMemoryTransport(MemoryStore(tasks), account="a"))
    for status in ("Waiting", "Deleted", "Paused"):
        assert client.describe_tasks(HZ, task_status=status).total_count == len(tasks)


def test_describe_tasks_paging() -> None:
    tasks = [task(f"t-{i:02d}") for i in range(25)]
    client = Client(InMemoryTransport(MemoryStore(tasks)))
    pages = [client.describe_tasks(HZ, page_number=n, page_size=10) for n in (1, 2, 3, 4)]
    assert [len(p.tasks) for p in pages] == [10, 10, 5, 0]
    assert {p.total_count for p in pages} == {25}
    assert [p.page_number for p in pages] == [1, 2, 3, 4]
    assert {p.page_size for p in pages} == {10}
    ids = [t.task_id for p in pages for t in p.tasks]
    assert ids == [f"t-{i:02d}" for i in range(25)]
    assert all(UUID_UPPER.fullmatch(p.request_id) for p in pages)
    default = client.describe_tasks(HZ)
    assert (default.page_number, default.page_size, len(default.tasks)) == (1, 10, 10)
    assert len(client.describe_tasks(HZ, page_size=100).tasks) == 25


@pytest.mark.parametrize(("page_number", "page_size"), [(0, 10), (1, 0), (1, 101)])
def test_describe_tasks_refuses_bad_paging(page_number: int, page_size: int) -> None:
    client = Client(InMemoryTransport(MemoryStore([task("t-1")])))
    with pytest.raises(ApiError) as info:
        client.describe_tasks(HZ, page_number=page_number, page_size=page_size)
    assert info.value.code == "InvalidParameter"
    assert info.value.http_status == 400


def test_describe_tasks_region_errors() -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises(RegionNotFound) as info:
        client.describe_tasks("xx-nowhere-1")
    assert info.value.code == "RegionId.NotFound"
    with pytest.raises(MissingParameter):
        client.describe_tasks("")
    assert client.describe_tasks(HZ).tasks == ()


def test_unknown_action_is_an_api_error() -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises(ApiError) as info:
        client.call("Nope", {})
    error = info.value
    assert not isinstance(error, CancelRejected)
    assert error.code == "InvalidAction.NotFound"
    assert error.http_status == 404
    assert UUID_UPPER.fullmatch(error.request_id)


def test_call_returns_the_raw_success_body() -> None:
    client = Client(InMemoryTransport(MemoryStore([task("t-1")])))
    body = client.call("DescribeTasks", {"RegionId": HZ})
    assert body["TotalCount"] == 1
    assert body["TaskSet"]["Task"][0]["TaskId"] == "t-1"
    assert body["TaskSet"]["Task"][0]["SupportCancel"] == "true"
    assert set(client.call("CancelTask", {"RegionId": HZ, "TaskId": "t-1"})) == {"RequestId"}


def test_async_client_over_the_in_memory_transport() -> None:
    store = MemoryStore([task("t-1"), task("t-2", status="Finished")])

    async def main() -> None:
        async with AsyncClient(InMemoryTransport(store)) as client:
            assert UUID_UPPER.fullmatch(await client.cancel_task(HZ, "t-1"))
            with pytest.raises(IncorrectTaskStatus):
                await client.cancel_task(HZ, "t-2")
            info = await client.describe_task_attribute(HZ, "t-1")
            assert info.status is TaskStatus.DELETED
            page = await client.describe_tasks(HZ)
            assert page.total_count == 2

    asyncio.run(main())


# ---------------------------------------------------------------- concurrency


def yielding_clock() -> datetime:
    """A fixed clock that gives up the GIL when read, so racing threads interleave."""
    time.sleep(0)
    return T0


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Switch threads as often as possible, so a missing lock shows up as a lost update."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("busy_switching")
def test_racing_cancels_of_one_task_exactly_one_wins() -> None:
    threads, rounds = 32, 60
    ids = [f"t-race-{n}" for n in range(rounds)]
    store = MemoryStore([task(i) for i in ids], clock=yielding_clock)
    client = Client(InMemoryTransport(store))
    barrier = threading.Barrier(threads)
    results: dict[str, list[str]] = {i: [] for i in ids}
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        for task_id in ids:  # all threads released together on each task in turn
            barrier.wait()
            try:
                client.cancel_task(HZ, task_id)
            except IncorrectTaskStatus:
                outcome = "incorrect-status"
            except BaseException as exc:
                outcome = "unexpected"
                with lock:
                    unexpected.append(exc)
            else:
                outcome = "ok"
            with lock:
                results[task_id].append(outcome)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert unexpected == []
    for task_id in ids:
        assert results[task_id].count("ok") == 1, task_id
        assert results[task_id].count("incorrect-status") == threads - 1, task_id
        assert client.describe_task_attribute(HZ, task_id).status is TaskStatus.DELETED


@pytest.mark.usefixtures("busy_switching")
def test_many_tasks_cancelled_concurrently_lose_no_update() -> None:
    n_tasks, n_threads = 400, 8
    ids = [f"t-{i:04d}" for i in range(n_tasks)]
    store = MemoryStore([task(i, owner="acct") for i in ids], clock=yielding_clock)
    barrier = threading.Barrier(n_threads)
    wins: list[str] = []
    unexpected: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        client = Client(InMemoryTransport(store, account="acct"))
        order = ids[:]
        random.Random(seed).shuffle(order)  # every thread tries every task
        barrier.wait()
        mine = []
        for task_id in order:
            try:
                client.cancel_task(HZ, task_id)
            except IncorrectTaskStatus:
                continue
            except BaseException as exc:
                with lock:
                    unexpected.append(exc)
                return
            mine.append(task_id)
        with lock:
            wins.extend(mine)

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(n_threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert unexpected == []
    assert sorted(wins) == ids  # each task cancelled exactly once
    client = Client(InMemoryTransport(store, account="acct"))
    statuses = [t.status for t in client.describe_tasks(HZ, page_size=100).tasks]
    assert statuses == [TaskStatus.DELETED] * 100
    not_deleted = [
        i
        for i in ids
        if getattr(store.get_task(HZ, i, account="acct"), "status", None) is not TaskStatus.DELETED
    ]
    assert not_deleted == []


def test_a_missing_parameter_other_than_region_or_task_is_not_blamed_on_region_id() -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises((ApiError, CancelRejected)) as info:
        client.call("ImportImage", {"RegionId": HZ})
    error = info.value
    assert error.code == "MissingParameter"
    assert "RegionId" not in error.message
    assert getattr(error, "reason", None) is not Reason.MISSING_REGION_ID


@pytest.mark.parametrize("region_id", ["cn-hangzhou", "cn-nowhere"])
def test_describe_task_attribute_checks_parameters_in_cancel_order(region_id: str) -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises(MissingParameter) as cancel_error:
        client.cancel_task(region_id, "")
    with pytest.raises(MissingParameter) as describe_error:
        client.describe_task_attribute(region_id, "")
    assert describe_error.value.reason is cancel_error.value.reason is Reason.MISSING_TASK_ID
