"""The Store contract: one behavioural suite, run against every store implementation.

Each test takes ``store_factory`` (ids ``memory`` and ``sqlite``; the SQLite store is a
real file under ``tmp_path``) and must pass unchanged for both: a store that behaves
differently from :class:`~taskcancel.MemoryStore` fails here.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs
import pytest

from taskcancel import (
    ECS_REGIONS,
    Accepted,
    CancelRequest,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    Schedule,
    SqliteStore,
    Store,
    Task,
    TaskAction,
    TaskStatus,
    apply_cancel,
    decide,
)
from taskcancel._store import (
    UNCHANGED,
    DuplicateTaskError,
    TaskNotFoundError,
    UnknownRegionError,
)
from taskcancel.testing import FakeClock

HANGZHOU = "cn-hangzhou"
SHANGHAI = "cn-shanghai"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


class StoreFactory(Protocol):
    def __call__(
        self,
        tasks: Iterable[Task] = (),
        *,
        regions: Iterable[str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Store: ...


def task(task_id: str, **fields: Any) -> Task:
    """A cancellable task in cn-hangzhou unless ``fields`` say otherwise."""
    fields.setdefault("region_id", HANGZHOU)
    fields.setdefault("action", TaskAction.IMPORT_IMAGE)
    fields.setdefault("status", TaskStatus.PROCESSING)
    return Task(task_id=task_id, **fields)


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    opened: list[Store] = []
    numbers = itertools.count()

    def make(
        tasks: Iterable[Task] = (),
        *,
        regions: Iterable[str] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(tasks, regions=regions, clock=clock)
        else:
            path = tmp_path / f"store-{next(numbers)}.db"
            store = SqliteStore(path, tasks, regions=regions, clock=clock)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


def snapshot(store: Store, accounts: Iterable[str | None] = (None, "alice", "bob")) -> object:
    """Everything every account can see in the two test regions."""
    return {
        (region, account): store.list_tasks(region, account=account)
        for region in (HANGZHOU, SHANGHAI)
        for account in accounts
    }


# -- cancelling ------------------------------------------------------------------------


def test_cancel_deletes_the_task_at_the_clocks_time(store_factory: StoreFactory) -> None:
    clock = FakeClock(T0 + timedelta(hours=1))
    original = task("t-1", creation_time=T0, resource_id="m-1", progress="40%")
    store = store_factory([original], clock=clock)

    decision = store.cancel(CancelRequest(HANGZHOU, "t-1"))

    expected = attrs.evolve(original, status=TaskStatus.DELETED, finished_time=clock.now)
    assert decision == Accepted(expected)
    assert store.get_task(HANGZHOU, "t-1", account=None) == expected
    assert store.find_task(HANGZHOU, "t-1") == expected


def test_cancelling_twice_is_an_incorrect_status(store_factory: StoreFactory) -> None:
    clock = FakeClock(T0)
    store = store_factory([task("t-1")], clock=clock)
    first = store.cancel(CancelRequest(HANGZHOU, "t-1"))
    assert isinstance(first, Accepted)

    clock.advance(30)
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(Reason.INCORRECT_TASK_STATUS)
    assert store.get_task(HANGZHOU, "t-1", account=None) == first.task  # first time kept


WORLD = [
    task("t-proc"),
    task("t-export", action=TaskAction.EXPORT_IMAGE),
    task("t-alice", owner="alice"),
    task("t-redeploy", action=TaskAction.REDEPLOY_INSTANCE),
    task("t-disk", action=TaskAction.MODIFY_DISK_SPEC),
    task("t-archive", action=TaskAction.ARCHIVE_SNAPSHOT),
    task("t-waiting", status=TaskStatus.WAITING),
    task("t-finished", status=TaskStatus.FINISHED, finished_time=T0),
    task("t-failed", status=TaskStatus.FAILED),
    task("t-deleted", status=TaskStatus.DELETED),
    task("t-paused", status=TaskStatus.PAUSED),
    task("t-fails", cancel_fails=True),
    task("t-sh", region_id=SHANGHAI),
]

REASON_CASES: list[tuple[str | None, str | None, str | None, Reason]] = [
    (None, "t-proc", None, Reason.MISSING_REGION_ID),
    ("", "t-proc", None, Reason.MISSING_REGION_ID),
    (None, None, None, Reason.MISSING_REGION_ID),
    (HANGZHOU, None, None, Reason.MISSING_TASK_ID),
    (HANGZHOU, "", None, Reason.MISSING_TASK_ID),
    ("xx-nowhere-1", "", None, Reason.MISSING_TASK_ID),
    ("xx-nowhere-1", "t-proc", None, Reason.REGION_NOT_FOUND),
    (HANGZHOU, "t-nope", None, Reason.TASK_NOT_FOUND),
    (HANGZHOU, "t-sh", None, Reason.TASK_NOT_FOUND),
    (SHANGHAI, "t-proc", None, Reason.TASK_NOT_FOUND),
    (HANGZHOU, "t-alice", None, Reason.TASK_NOT_FOUND),
    (HANGZHOU, "t-proc", "alice", Reason.TASK_NOT_FOUND),
    (HANGZHOU, "t-redeploy", None, Reason.ACTION_NOT_SUPPORTED),
    (HANGZHOU, "t-disk", None, Reason.ACTION_NOT_SUPPORTED),
    (HANGZHOU, "t-archive", None, Reason.ACTION_NOT_SUPPORTED),
    (HANGZHOU, "t-waiting", None, Reason.INCORRECT_TASK_STATUS),
    (HANGZHOU, "t-finished", None, Reason.INCORRECT_TASK_STATUS),
    (HANGZHOU, "t-failed", None, Reason.INCORRECT_TASK_STATUS),
    (HANGZHOU, "t-deleted", None, Reason.INCORRECT_TASK_STATUS),
    (HANGZHOU, "t-paused", None, Reason.INCORRECT_TASK_STATUS),
    (HANGZHOU, "t-fails", None, Reason.CANCEL_FAILED),
]


def test_the_cases_cover_every_reason() -> None:
    assert {case[3] for case in REASON_CASES} == set(Reason)


@pytest.mark.parametrize(("region_id", "task_id", "account", "reason"), REASON_CASES)
def test_every_reason_is_reachable(
    store_factory: StoreFactory,
    region_id: str | None,
    task_id: str | None,
    account: str | None,
    reason: Reason,
) -> None:
    store = store_factory(WORLD)
    before = snapshot(store)
    request = CancelRequest(region_id, task_id)

    assert store.cancel(request, account=account) == Rejected(reason)
    assert snapshot(store) == before  # a rejection changes nothing
    if reason is not Reason.CANCEL_FAILED:  # the store agrees with the pure rules
        assert decide(request, store, account=account) == Rejected(reason)


@pytest.mark.parametrize("task_id", ["t-proc", "t-export", "t-alice"])
def test_cancellable_tasks_are_accepted(store_factory: StoreFactory, task_id: str) -> None:
    store = store_factory(WORLD, clock=FakeClock(T0))
    account = "alice" if task_id == "t-alice" else None
    decision = store.cancel(CancelRequest(HANGZHOU, task_id), account=account)
    assert isinstance(decision, Accepted)
    assert decision.task.status is TaskStatus.DELETED
    assert decision.task.finished_time == T0


def test_a_wider_policy_is_honoured(store_factory: StoreFactory) -> None:
    store = store_factory(WORLD, clock=FakeClock(T0))
    policy = Policy(
        cancellable_actions=frozenset({TaskAction.IMPORT_IMAGE, TaskAction.REDEPLOY_INSTANCE}),
        cancellable_statuses=frozenset({TaskStatus.WAITING, TaskStatus.PROCESSING}),
    )
    for task_id in ("t-waiting", "t-redeploy"):
        decision = store.cancel(CancelRequest(HANGZHOU, task_id), policy=policy)
        assert isinstance(decision, Accepted), task_id
        assert decision.task.status is TaskStatus.DELETED
    assert store.cancel(CancelRequest(HANGZHOU, "t-export"), policy=policy) == Rejected(
        Reason.ACTION_NOT_SUPPORTED
    )
    assert store.cancel(CancelRequest(HANGZHOU, "t-paused"), policy=policy) == Rejected(
        Reason.INCORRECT_TASK_STATUS
    )


# -- tenancy ---------------------------------------------------------------------------


def test_accounts_see_and_cancel_only_their_own_tasks(store_factory: StoreFactory) -> None:
    alice, bob, anonymous, empty = (
        task("t-1", owner="alice"),
        task("t-2", owner="bob"),
        task("t-3"),
        task("t-4", owner=""),
    )
    store = store_factory([alice, bob, anonymous, empty], clock=FakeClock(T0))

    assert store.list_tasks(HANGZHOU, account="alice") == [alice]
    assert store.list_tasks(HANGZHOU, account="bob") == [bob]
    assert store.list_tasks(HANGZHOU, account=None) == [anonymous]
    assert store.list_tasks(HANGZHOU, account="") == [empty]
    assert store.list_tasks(HANGZHOU, account="carol") == []
    assert store.get_task(HANGZHOU, "t-1", account="bob") is None
    assert store.get_task(HANGZHOU, "t-1", account=None) is None
    assert store.get_task(HANGZHOU, "t-3", account="") is None
    assert store.get_task(HANGZHOU, "t-1", account="alice") == alice

    not_found = Rejected(Reason.TASK_NOT_FOUND)
    assert store.cancel(CancelRequest(HANGZHOU, "t-1"), account="bob") == not_found
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == not_found
    assert store.cancel(CancelRequest(HANGZHOU, "t-3"), account="") == not_found
    assert store.get_task(HANGZHOU, "t-1", account="alice") == alice
    assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1"), account="alice"), Accepted)
    assert store.get_task(HANGZHOU, "t-2", account="bob") == bob


# -- adding tasks, regions -------------------------------------------------------------


def test_add_task_adds_a_cancellable_task(store_factory: StoreFactory) -> None:
    store = store_factory([task("t-1")], clock=FakeClock(T0))
    added = task("t-2", owner="alice", creation_time=T0, resource_id="m-2")
    store.add_task(added)
    store.add_task(task("t-1", region_id=SHANGHAI))  # same id, other region: fine

    assert store.find_task(HANGZHOU, "t-2") == added
    assert store.get_task(HANGZHOU, "t-2", account="alice") == added
    assert store.find_task(SHANGHAI, "t-1") == task("t-1", region_id=SHANGHAI)
    decision = store.cancel(CancelRequest(HANGZHOU, "t-2"), account="alice")
    assert isinstance(decision, Accepted)


def test_add_task_refuses_duplicates_unknown_regions_and_non_tasks(
    store_factory: StoreFactory,
) -> None:
    original = task("t-1", resource_id="m-1")
    store = store_factory([original], regions=[HANGZHOU, SHANGHAI])
    before = snapshot(store)

    with pytest.raises(ValueError, match="duplicate"):
        store.add_task(task("t-1", status=TaskStatus.WAITING))
    with pytest.raises(ValueError, match="ap-south-1"):
        store.add_task(task("t-2", region_id="ap-south-1"))
    with pytest.raises(TypeError):
        store.add_task({"task_id": "t-3"})  # type: ignore[arg-type]

    assert snapshot(store) == before
    assert store.find_task(HANGZHOU, "t-1") == original
    assert store.find_task("ap-south-1", "t-2") is None


def test_regions_default_to_the_ecs_list(store_factory: StoreFactory) -> None:
    store = store_factory()
    assert store.regions() == ECS_REGIONS
    assert store.has_region(HANGZHOU)
    assert not store.has_region("xx-nowhere-1")


def test_regions_can_be_given(store_factory: StoreFactory) -> None:
    store = store_factory([task("t-1", region_id="lab-1")], regions=["lab-1", "lab-2"])
    assert store.regions() == frozenset({"lab-1", "lab-2"})
    assert store.has_region("lab-2")
    assert not store.has_region(HANGZHOU)
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(Reason.REGION_NOT_FOUND)
    assert isinstance(store.cancel(CancelRequest("lab-1", "t-1")), Accepted)


def test_seed_tasks_outside_the_regions_are_refused(store_factory: StoreFactory) -> None:
    with pytest.raises(ValueError, match="region"):
        store_factory([task("t-1")], regions=["lab-1"])
    with pytest.raises(ValueError, match="duplicate"):
        store_factory([task("t-1"), task("t-1", status=TaskStatus.WAITING)])


# -- fault injection, reset ------------------------------------------------------------


def test_set_cancel_fails_makes_cancel_fail_and_leaves_the_task(
    store_factory: StoreFactory,
) -> None:
    store = store_factory([task("t-1", progress="10%"), task("t-2", status=TaskStatus.FINISHED)])
    before = store.get_task(HANGZHOU, "t-1", account=None)
    assert before is not None

    store.set_cancel_fails(HANGZHOU, "t-1")
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(Reason.CANCEL_FAILED)
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(Reason.CANCEL_FAILED)
    assert store.get_task(HANGZHOU, "t-1", account=None) == attrs.evolve(before, cancel_fails=True)

    store.set_cancel_fails(HANGZHOU, "t-2")  # the rules still come first
    assert store.cancel(CancelRequest(HANGZHOU, "t-2")) == Rejected(Reason.INCORRECT_TASK_STATUS)

    store.set_cancel_fails(HANGZHOU, "t-1", False)
    assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1")), Accepted)

    with pytest.raises(KeyError):
        store.set_cancel_fails(HANGZHOU, "t-nope")
    with pytest.raises(KeyError):
        store.set_cancel_fails(SHANGHAI, "t-1")


def test_reset_restores_the_initial_world(store_factory: StoreFactory) -> None:
    seed = [task("t-1"), task("t-2", owner="alice"), task("t-3", region_id=SHANGHAI)]
    store = store_factory(seed, clock=FakeClock(T0))
    initial = snapshot(store)

    assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1")), Accepted)
    store.add_task(task("t-new"))
    store.set_cancel_fails(HANGZHOU, "t-2")
    assert snapshot(store) != initial

    store.reset()
    assert snapshot(store) == initial
    assert store.find_task(HANGZHOU, "t-new") is None
    assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1")), Accepted)
    assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-2"), account="alice"), Accepted)

    store.reset()  # twice is fine
    assert snapshot(store) == initial


def test_reset_of_an_unseeded_store_empties_it(store_factory: StoreFactory) -> None:
    store = store_factory()
    store.add_task(task("t-1"))
    store.reset()
    assert store.list_tasks(HANGZHOU, account=None) == []


# -- listing ---------------------------------------------------------------------------


def test_list_tasks_is_ordered_by_task_id_and_filtered_by_region(
    store_factory: StoreFactory,
) -> None:
    ids = ["t-b", "t-a", "T-Z", "t-é", "t-10", "t-9", "t-c"]
    store = store_factory([task(i) for i in ids] + [task("t-0", region_id=SHANGHAI)])
    store.add_task(task("t-aa"))

    listed = [t.task_id for t in store.list_tasks(HANGZHOU, account=None)]
    assert listed == sorted([*ids, "t-aa"])
    assert [t.task_id for t in store.list_tasks(SHANGHAI, account=None)] == ["t-0"]
    assert store.list_tasks("ap-south-1", account=None) == []
    assert store.list_tasks("xx-nowhere-1", account=None) == []


# -- lifecycle -------------------------------------------------------------------------


def scheduled(task_id: str, outcome: TaskStatus = TaskStatus.FINISHED) -> Task:
    return task(
        task_id,
        status=TaskStatus.WAITING,
        creation_time=T0,
        schedule=Schedule(queued_seconds=10, processing_seconds=100, outcome=outcome),
    )


def test_lifecycle_follows_the_clock(store_factory: StoreFactory) -> None:
    clock = FakeClock(T0 + timedelta(seconds=5))
    seed = [
        scheduled("t-early"),
        scheduled("t-mid"),
        scheduled("t-late"),
        scheduled("t-fail", TaskStatus.FAILED),
    ]
    store = store_factory(seed, clock=clock)

    def now(task_id: str) -> Task:
        found = store.get_task(HANGZHOU, task_id, account=None)
        assert found is not None
        return found

    # Waiting: not cancellable.
    assert [t.status for t in store.list_tasks(HANGZHOU, account=None)] == [TaskStatus.WAITING] * 4
    assert now("t-early").progress == "0%"
    incorrect = Rejected(Reason.INCORRECT_TASK_STATUS)
    assert store.cancel(CancelRequest(HANGZHOU, "t-early")) == incorrect
    assert store.find_task(HANGZHOU, "t-early") == seed[0]  # stored as seeded

    # Processing: cancellable; the cancel keeps the progress reached and ends the schedule.
    clock.advance(55)  # 60 s after creation: 50 s into 100 s of processing
    assert now("t-mid").status is TaskStatus.PROCESSING
    assert now("t-mid").progress == "50%"
    decision = store.cancel(CancelRequest(HANGZHOU, "t-mid"))
    assert decision == Accepted(
        attrs.evolve(
            seed[1],
            status=TaskStatus.DELETED,
            progress="50%",
            finished_time=T0 + timedelta(seconds=60),
            schedule=None,
        )
    )

    # Finished by its schedule: not cancellable, and stays finished.
    clock.advance(140)  # 200 s after creation
    finished_at = T0 + timedelta(seconds=110)
    assert now("t-late").status is TaskStatus.FINISHED
    assert now("t-late").progress == "100%"
    assert now("t-late").finished_time == finished_at
    assert now("t-fail").status is TaskStatus.FAILED
    assert store.cancel(CancelRequest(HANGZHOU, "t-late")) == incorrect
    assert now("t-mid") == decision.task  # a cancelled task stays cancelled

    for later in (1_000, 100_000, 10_000_000):
        clock.set(T0 + timedelta(seconds=later))
        assert now("t-late").status is TaskStatus.FINISHED
        assert now("t-late").finished_time == finished_at
        assert now("t-mid") == decision.task
        assert store.cancel(CancelRequest(HANGZHOU, "t-late")) == incorrect
    listed = {t.task_id: t.status for t in store.list_tasks(HANGZHOU, account=None)}
    assert listed == {
        "t-early": TaskStatus.FINISHED,
        "t-fail": TaskStatus.FAILED,
        "t-late": TaskStatus.FINISHED,
        "t-mid": TaskStatus.DELETED,
    }


def test_a_wider_policy_cancels_a_waiting_scheduled_task(store_factory: StoreFactory) -> None:
    clock = FakeClock(T0 + timedelta(seconds=3))
    store = store_factory([scheduled("t-1")], clock=clock)
    waiting = Policy(cancellable_statuses=frozenset({TaskStatus.WAITING}))
    decision = store.cancel(CancelRequest(HANGZHOU, "t-1"), policy=waiting)
    assert isinstance(decision, Accepted)
    assert decision.task.finished_time == clock.now
    clock.advance(1_000)
    assert store.get_task(HANGZHOU, "t-1", account=None) == decision.task


# -- the control plane's operations ----------------------------------------------------


def test_snapshot_is_every_region_and_every_task_as_stored(store_factory: StoreFactory) -> None:
    seed = [
        scheduled("t-2"),
        task("t-1", owner="alice"),
        task("t-0", region_id=SHANGHAI, owner="bob"),
    ]
    clock = FakeClock(T0 + timedelta(hours=5))  # long after the schedule ended
    store = store_factory(seed, regions=[HANGZHOU, SHANGHAI, "lab-1"], clock=clock)

    regions, tasks = store.snapshot()
    assert regions == frozenset({HANGZHOU, SHANGHAI, "lab-1"})
    assert tasks == sorted(seed, key=lambda t: t.key)  # every owner; schedules not applied
    assert tasks[1].status is TaskStatus.WAITING


def test_replace_swaps_the_whole_world_and_reset_brings_the_seed_back(
    store_factory: StoreFactory,
) -> None:
    seed = [task("t-1"), task("t-2", region_id=SHANGHAI, owner="alice")]
    store = store_factory(seed, regions=[HANGZHOU, SHANGHAI])
    new = [task("t-9", region_id="lab-1", owner="bob"), task("t-8", region_id="lab-2")]

    store.replace(new, regions=["lab-1", "lab-2"])
    assert store.snapshot() == (frozenset({"lab-1", "lab-2"}), sorted(new, key=lambda t: t.key))
    assert not store.has_region(HANGZHOU)
    assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(Reason.REGION_NOT_FOUND)
    assert isinstance(store.cancel(CancelRequest("lab-1", "t-9"), account="bob"), Accepted)
    assert store.count_tasks("lab-1", account="bob") == 1

    store.reset()
    assert store.snapshot() == (frozenset({HANGZHOU, SHANGHAI}), seed)
    assert store.count_tasks("lab-1", account="bob") == 0
    assert store.count_tasks(SHANGHAI, account="alice") == 1


@pytest.mark.parametrize(
    ("tasks", "regions", "error"),
    [
        ([task("t-1"), task("t-1")], [HANGZHOU], DuplicateTaskError),
        ([task("t-1", region_id=SHANGHAI)], [HANGZHOU], UnknownRegionError),
        ([task("t-1")], [HANGZHOU, ""], ValueError),
        (["t-1"], [HANGZHOU], TypeError),
    ],
    ids=["duplicate", "unknown-region", "empty-region", "not-a-task"],
)
def test_a_bad_replace_changes_nothing(
    store_factory: StoreFactory, tasks: list[Task], regions: list[str], error: type[Exception]
) -> None:
    store = store_factory([task("t-0", owner="alice")], regions=[HANGZHOU, SHANGHAI])
    before = store.snapshot()
    with pytest.raises(error):
        store.replace(tasks, regions=regions)
    assert store.snapshot() == before


def test_add_tasks_is_all_or_nothing(store_factory: StoreFactory) -> None:
    store = store_factory([task("t-1")], regions=[HANGZHOU, SHANGHAI])
    before = store.snapshot()

    with pytest.raises(DuplicateTaskError) as duplicate:
        store.add_tasks([task("t-2"), task("t-1")])  # t-2 is fine, t-1 exists
    assert (duplicate.value.region_id, duplicate.value.task_id) == (HANGZHOU, "t-1")
    assert isinstance(duplicate.value, ValueError)
    with pytest.raises(DuplicateTaskError, match="t-3"):
        store.add_tasks([task("t-3"), task("t-3")])  # twice in one batch
    with pytest.raises(UnknownRegionError) as unknown:
        store.add_tasks([task("t-4"), task("t-5", region_id="ap-south-1")])
    assert (unknown.value.region_id, unknown.value.task_id) == ("ap-south-1", "t-5")
    assert "ap-south-1" in str(unknown.value)
    assert store.snapshot() == before

    store.add_tasks([task("t-2", owner="alice"), task("t-2", region_id=SHANGHAI)])
    assert store.count_tasks(HANGZHOU, account="alice") == 1
    assert [t.task_id for t in store.snapshot()[1]] == ["t-1", "t-2", "t-2"]


def test_update_task_changes_only_what_it_is_given(store_factory: StoreFactory) -> None:
    original = scheduled("t-1")
    store = store_factory([original, task("t-2", owner="alice")], clock=FakeClock(T0))

    assert store.update_task(HANGZHOU, "t-1") == original
    changed = store.update_task(HANGZHOU, "t-1", status="Processing", progress="30%")
    assert changed == attrs.evolve(original, status=TaskStatus.PROCESSING, progress="30%")
    assert store.find_task(HANGZHOU, "t-1") == changed
    assert store.update_task(HANGZHOU, "t-1", cancel_fails=True).cancel_fails
    new_schedule = Schedule(queued_seconds=0, processing_seconds=5)
    assert store.update_task(HANGZHOU, "t-1", schedule=new_schedule).schedule == new_schedule
    assert store.update_task(HANGZHOU, "t-1", schedule=UNCHANGED).schedule == new_schedule
    pinned = store.update_task(HANGZHOU, "t-1", schedule=None, status=TaskStatus.PAUSED)
    assert (pinned.schedule, pinned.status, pinned.cancel_fails) == (None, TaskStatus.PAUSED, True)
    assert store.get_task(HANGZHOU, "t-1", account=None) == pinned
    assert store.count_tasks(HANGZHOU, account=None) == 1  # owner and counts untouched


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"status": "Running"}, ValueError),
        ({"progress": "101%"}, ValueError),
        ({"cancel_fails": "yes"}, ValueError),
        ({"schedule": "soon"}, ValueError),
        ({"schedule": Schedule()}, ValueError),  # t-2 has no creation time
        ({"owner": "bob"}, TypeError),
    ],
)
def test_a_bad_update_changes_nothing(
    store_factory: StoreFactory, changes: dict[str, Any], error: type[Exception]
) -> None:
    store = store_factory([task("t-2", owner="alice")])
    before = store.snapshot()
    with pytest.raises(error):
        store.update_task(HANGZHOU, "t-2", **changes)
    assert store.snapshot() == before


def test_update_of_a_missing_task_is_a_key_error_naming_it(store_factory: StoreFactory) -> None:
    store = store_factory([task("t-1")])
    with pytest.raises(TaskNotFoundError) as caught:
        store.update_task(SHANGHAI, "t-1", status="Finished")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "no task 't-1' in region 'cn-shanghai'"
    assert (caught.value.region_id, caught.value.task_id) == (SHANGHAI, "t-1")
    with pytest.raises(TaskNotFoundError):
        store.set_cancel_fails(HANGZHOU, "t-nope")


def test_store_errors_survive_pickling() -> None:
    for error in (
        DuplicateTaskError(HANGZHOU, "t-1"),
        UnknownRegionError("lab-9", "t-1"),
        TaskNotFoundError(HANGZHOU, "t-1"),
    ):
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (str(copy), copy.region_id, copy.task_id) == (
            str(error),
            error.region_id,
            error.task_id,
        )


def test_create_task_keeps_the_quota_per_account_and_region(store_factory: StoreFactory) -> None:
    store = store_factory([task("t-1", owner="alice"), task("t-2", owner="bob")])
    assert store.create_task(task("t-3", owner="alice"), max_tasks=2)
    assert not store.create_task(task("t-4", owner="alice"), max_tasks=2)
    assert store.find_task(HANGZHOU, "t-4") is None
    assert store.create_task(task("t-4", owner="alice", region_id=SHANGHAI), max_tasks=2)
    assert store.create_task(task("t-5", owner="bob"), max_tasks=2)
    assert store.create_task(task("t-6"), max_tasks=1)  # the anonymous account
    assert not store.create_task(task("t-7"), max_tasks=1)
    assert store.count_tasks(HANGZHOU, account="alice") == 2
    assert store.count_tasks(HANGZHOU, account=None) == 1
    with pytest.raises(DuplicateTaskError):
        store.create_task(task("t-1", owner="bob"), max_tasks=10)
    with pytest.raises(UnknownRegionError):
        store_factory(regions=[HANGZHOU]).create_task(task("t-1", region_id="x"), max_tasks=1)


def test_page_tasks_pages_an_accounts_tasks_as_they_stand_now(
    store_factory: StoreFactory,
) -> None:
    mine = [scheduled(f"t-{i:02d}") for i in range(25)]
    others = [task("t-alice", owner="alice"), task("t-99", region_id=SHANGHAI)]
    store = store_factory(mine + others, clock=FakeClock(T0 + timedelta(seconds=60)))
    now = store.list_tasks(HANGZHOU, account=None)
    assert [t.status for t in now] == [TaskStatus.PROCESSING] * 25

    assert store.page_tasks(HANGZHOU, account=None, offset=0, limit=10) == (25, now[:10])
    assert store.page_tasks(HANGZHOU, account=None, offset=20, limit=10) == (25, now[20:])
    assert store.page_tasks(HANGZHOU, account=None, offset=30, limit=10) == (25, [])
    assert store.page_tasks(HANGZHOU, account=None, offset=0, limit=0) == (25, [])
    assert store.page_tasks(HANGZHOU, account="alice", offset=0, limit=10)[0] == 1
    assert store.page_tasks("lab-9", account=None, offset=0, limit=10) == (0, [])
    wanted = ["t-07", "t-03", "t-99", "t-nope", "t-03"]
    assert store.page_tasks(HANGZHOU, account=None, offset=0, limit=10, ids=wanted) == (
        2,
        [now[3], now[7]],
    )
    assert store.page_tasks(HANGZHOU, account=None, offset=1, limit=1, ids=wanted) == (2, [now[7]])
    assert store.count_tasks(HANGZHOU, account=None) == 25
    with pytest.raises(ValueError, match="offset"):
        store.page_tasks(HANGZHOU, account=None, offset=-1, limit=10)


def test_cancel_is_decide_then_apply_cancel(store_factory: StoreFactory) -> None:
    now = T0 + timedelta(seconds=60)
    seed = [
        task("t-ok", owner="alice"),
        task("t-fails", owner="alice", cancel_fails=True),
        task("t-waiting", status=TaskStatus.WAITING, owner="alice"),
        task("t-redeploy", action=TaskAction.REDEPLOY_INSTANCE, owner="alice"),
        scheduled("t-scheduled"),
    ]
    store = store_factory(seed, clock=FakeClock(now))
    shadow = MemoryStore(seed)
    for account in (None, "alice", "bob"):
        for request in [CancelRequest(HANGZHOU, t.task_id) for t in seed] + [
            CancelRequest(None, "t-ok"),
            CancelRequest(HANGZHOU, ""),
            CancelRequest("lab-9", "t-ok"),
        ]:
            expected = apply_cancel(decide(request, shadow, account=account, now=now), now)
            assert store.cancel(request, account=account) == expected
            if isinstance(expected, Accepted):
                shadow.update_task(HANGZHOU, expected.task.task_id, status="Deleted", schedule=None)
