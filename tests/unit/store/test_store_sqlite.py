"""SqliteStore beyond the shared contract: files, persistence, refusals, round-trips, races.

The behaviour every store shares is in ``test_store_contract.py``; this file covers
what only a store on disk has: state that survives reopening, seeds that apply to a new
file only, files it must refuse without touching, exact round-trips of every field, and
cancels racing from threads and from processes on one file.
"""

from __future__ import annotations

import gc
import os
import random
import sqlite3
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.stores import HANGZHOU, task

from taskcancel import (
    Accepted,
    CancelRequest,
    Decision,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    Schedule,
    SqliteStore,
    StoreFileError,
    Task,
    TaskAction,
    TaskStatus,
)
from taskcancel._store.sqlite import SCHEMA_VERSION
from taskcancel.testing import FakeClock

SHANGHAI = "cn-shanghai"
T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def many(count: int, region_id: str = HANGZHOU) -> list[Task]:
    return [task(f"t-{i:05d}", region_id=region_id) for i in range(count)]


# -- persistence -----------------------------------------------------------------------


def test_cancels_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    seed = [task("t-1"), task("t-2", owner="alice"), task("t-3", region_id=SHANGHAI)]
    clock = FakeClock(T0)
    with SqliteStore(path, seed, clock=clock) as store:
        first = store.cancel(CancelRequest(HANGZHOU, "t-1"))
        assert isinstance(first, Accepted)
        store.add_task(task("t-added", creation_time=T0))
        store.set_cancel_fails(HANGZHOU, "t-2")

    clock.advance(3600)
    with SqliteStore(path, seed, clock=clock) as store:  # a restart with the same flags
        assert store.find_task(HANGZHOU, "t-1") == first.task
        assert store.cancel(CancelRequest(HANGZHOU, "t-1")) == Rejected(
            Reason.INCORRECT_TASK_STATUS
        )
        assert store.find_task(HANGZHOU, "t-added") == task("t-added", creation_time=T0)
        assert store.cancel(CancelRequest(HANGZHOU, "t-2"), account="alice") == Rejected(
            Reason.CANCEL_FAILED
        )
        assert store.find_task(SHANGHAI, "t-3") == seed[2]


def test_seeds_and_regions_apply_to_a_new_file_only(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    seed = [task("t-1"), task("t-2")]
    with SqliteStore(path, seed, regions=[HANGZHOU, SHANGHAI]) as store:
        assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1")), Accepted)
        cancelled = store.find_task(HANGZHOU, "t-1")

    other_seed = [task("t-1", region_id="lab-1"), task("t-9", region_id="lab-1")]
    with SqliteStore(path, other_seed, regions=["lab-1"]) as store:  # valid, but ignored
        assert store.regions() == frozenset({HANGZHOU, SHANGHAI})
        assert store.find_task(HANGZHOU, "t-1") == cancelled
        assert store.find_task("lab-1", "t-9") is None
        assert len(store) == 2

        store.reset()  # restores the file's own seed, not the ignored one
        assert store.list_tasks(HANGZHOU, account=None) == seed

    with SqliteStore(path) as store:  # no flags at all: same store
        assert store.list_tasks(HANGZHOU, account=None) == seed


def test_an_empty_existing_file_becomes_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.touch()
    with SqliteStore(path, [task("t-1")]) as store:
        assert store.find_task(HANGZHOU, "t-1") == task("t-1")


def test_the_file_is_a_versioned_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    with SqliteStore(path, [task("t-1")]) as store:
        assert store.path == str(path)
        conn = sqlite3.connect(path)
        try:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
            assert {"regions", "tasks", "seed_tasks"} <= tables
            assert conn.execute("SELECT task_id, status FROM tasks").fetchall() == [
                ("t-1", "Processing")
            ]
        finally:
            conn.close()


def test_a_closed_store_refuses_work(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.db", [task("t-1")])
    with store:
        pass
    store.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        store.find_task(HANGZHOU, "t-1")
    with pytest.raises(ValueError, match="closed"):
        store.cancel(CancelRequest(HANGZHOU, "t-1"))
    assert "closed" in repr(store)


def test_synchronous_full_is_available(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "store.db", [task("t-1")], synchronous="FULL") as store:
        assert isinstance(store.cancel(CancelRequest(HANGZHOU, "t-1")), Accepted)


def test_connections_of_finished_threads_are_closed(tmp_path: Path) -> None:
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        pytest.skip("needs /proc/self/fd")
    with SqliteStore(tmp_path / "store.db", [task("t-1")]) as store:
        store.find_task(HANGZHOU, "t-1")
        before = len(os.listdir(fd_dir))
        for _ in range(40):
            thread = threading.Thread(target=store.find_task, args=(HANGZHOU, "t-1"))
            thread.start()
            thread.join()
        gc.collect()
        assert len(os.listdir(fd_dir)) <= before + 4


# -- refusals --------------------------------------------------------------------------


def refused(path: Path, *, match: str) -> StoreFileError:
    """Opening ``path`` is refused (naming the path) and leaves the file byte-identical."""
    contents = path.read_bytes()
    with pytest.raises(StoreFileError, match=match) as caught:
        SqliteStore(path, [task("t-1")])
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)
    assert path.read_bytes() == contents
    return caught.value


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStore(path, [task("t-1")]).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    error = refused(path, match="newer")
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "contents",
    [b"hello", b"not a database\n" * 300, random.Random(7).randbytes(8192)],
    ids=["short", "text", "random"],
)
def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path, contents: bytes) -> None:
    path = tmp_path / "world.json"
    path.write_bytes(contents)
    refused(path, match="not a usable")


def test_a_corrupt_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStore(path, many(2000)).close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 8 * page
    garbage = random.Random(3).randbytes(len(data) - 2 * page)
    data[2 * page :] = garbage  # keep the header and schema page, wreck the rest
    path.write_bytes(bytes(data))
    refused(path, match="corrupt|not a usable|malformed")


def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO accounts (name) VALUES ('precious')")
    conn.commit()
    conn.close()
    refused(path, match="not a taskcancel store")


def test_unusable_paths_and_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MemoryStore"):
        SqliteStore(":memory:")
    with pytest.raises(ValueError, match="MemoryStore"):
        SqliteStore("")
    with pytest.raises(StoreFileError, match="cannot open"):
        SqliteStore(tmp_path / "no-such-dir" / "store.db")
    with pytest.raises(ValueError, match="synchronous"):
        SqliteStore(tmp_path / "store.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="region"):
        SqliteStore(tmp_path / "store.db", [task("t-1")], regions=["lab-1"])


# -- round-trips -----------------------------------------------------------------------

texts = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)
zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=8)), timezone(-timedelta(hours=5, minutes=30))]
)
times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=zones
)
schedules = st.builds(
    Schedule,
    queued_seconds=st.floats(min_value=0, allow_nan=False),
    processing_seconds=st.floats(min_value=0, exclude_min=True, allow_nan=False),
    outcome=st.sampled_from([TaskStatus.FINISHED, TaskStatus.FAILED]),
)


@st.composite
def any_task(draw: st.DrawFn) -> Task:
    schedule = draw(st.none() | schedules)
    creation = draw(times) if schedule is not None else draw(st.none() | times)
    return Task(
        task_id=draw(texts),
        region_id=draw(st.sampled_from([HANGZHOU, SHANGHAI])),
        action=draw(st.sampled_from(TaskAction)),
        status=draw(st.sampled_from(TaskStatus)),
        owner=draw(st.none() | st.just("") | texts),
        creation_time=creation,
        finished_time=draw(st.none() | times),
        resource_id=draw(st.none() | st.text(max_size=12)),
        progress=draw(st.none() | st.integers(0, 100).map("{}%".format)),
        cancel_fails=draw(st.booleans()),
        schedule=schedule,
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tasks=st.lists(any_task(), max_size=6, unique_by=lambda t: t.key), extra=any_task())
def test_every_task_field_round_trips(tasks: list[Task], extra: Task) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "store.db"
        with SqliteStore(path, tasks) as store:
            for seeded in tasks:
                assert store.find_task(seeded.region_id, seeded.task_id) == seeded
            if extra.key not in {t.key for t in tasks}:
                store.add_task(extra)
                assert store.find_task(extra.region_id, extra.task_id) == extra
        with SqliteStore(path) as store:  # through the file, and through the seed table
            store.reset()
            for seeded in tasks:
                found = store.find_task(seeded.region_id, seeded.task_id)
                assert found == seeded
                assert found is not None and found.creation_time == seeded.creation_time
                if found.creation_time is not None:
                    assert found.creation_time.utcoffset() == timedelta(0)


# -- differential: SqliteStore decides exactly like MemoryStore --------------------------

REGIONS = [HANGZHOU, SHANGHAI]
POLICIES = [
    Policy(),
    Policy(cancellable_statuses=frozenset({TaskStatus.WAITING, TaskStatus.PROCESSING})),
]


@st.composite
def small_task(draw: st.DrawFn) -> Task:
    schedule = draw(
        st.none()
        | st.builds(
            Schedule,
            queued_seconds=st.integers(0, 20).map(float),
            processing_seconds=st.integers(1, 50).map(float),
            outcome=st.sampled_from([TaskStatus.FINISHED, TaskStatus.FAILED]),
        )
    )
    return Task(
        task_id=draw(st.sampled_from(["t-1", "t-2", "t-3", "t-4"])),
        region_id=draw(st.sampled_from(REGIONS)),
        action=draw(st.sampled_from(TaskAction)),
        status=draw(st.sampled_from(TaskStatus)),
        owner=draw(st.sampled_from([None, "alice"])),
        creation_time=T0,
        cancel_fails=draw(st.booleans()),
        schedule=schedule,
    )


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("cancel"),
            st.sampled_from([None, "", HANGZHOU, SHANGHAI, "xx-nowhere-1"]),
            st.sampled_from([None, "", "t-1", "t-2", "t-3", "t-4", "t-9"]),
            st.sampled_from([None, "alice"]),
            st.integers(0, len(POLICIES) - 1),
        ),
        st.tuples(st.just("advance"), st.integers(0, 30)),
        st.tuples(st.just("fail"), st.sampled_from(REGIONS), st.sampled_from(["t-1", "t-9"])),
        st.tuples(st.just("reset")),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=st.lists(small_task(), max_size=8, unique_by=lambda t: t.key), ops=operations)
def test_sqlite_store_behaves_like_memory_store(world: list[Task], ops: list[Any]) -> None:
    clock = FakeClock(T0)
    memory = MemoryStore(world, regions=REGIONS, clock=clock)
    with tempfile.TemporaryDirectory() as directory:
        sqlite = SqliteStore(Path(directory) / "s.db", world, regions=REGIONS, clock=clock)
        with sqlite:
            for op in ops:
                if op[0] == "cancel":
                    _, region_id, task_id, account, policy = op
                    request = CancelRequest(region_id, task_id)
                    outcomes: list[Decision] = [
                        store.cancel(request, account=account, policy=POLICIES[policy])
                        for store in (memory, sqlite)
                    ]
                    assert outcomes[0] == outcomes[1], op
                elif op[0] == "advance":
                    clock.advance(op[1])
                elif op[0] == "fail":
                    errors: list[str | None] = []
                    for store in (memory, sqlite):
                        try:
                            store.set_cancel_fails(op[1], op[2])
                            errors.append(None)
                        except KeyError:
                            errors.append("KeyError")
                    assert errors[0] == errors[1]
                else:
                    memory.reset()
                    sqlite.reset()
                for region in REGIONS:
                    for account in (None, "alice"):
                        assert memory.list_tasks(region, account=account) == sqlite.list_tasks(
                            region, account=account
                        )


# -- races: threads --------------------------------------------------------------------


def test_sixteen_threads_cancel_one_task_exactly_once(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "store.db", [task("t-1")]) as store:
        barrier = threading.Barrier(16)
        outcomes: list[Decision] = []
        lock = threading.Lock()

        def worker() -> None:
            barrier.wait()
            decision = store.cancel(CancelRequest(HANGZHOU, "t-1"))
            with lock:
                outcomes.append(decision)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        accepted = [d for d in outcomes if isinstance(d, Accepted)]
        assert len(accepted) == 1
        assert outcomes.count(Rejected(Reason.INCORRECT_TASK_STATUS)) == 15
        assert store.find_task(HANGZHOU, "t-1") == accepted[0].task


def test_threads_cancel_each_of_many_tasks_exactly_once(tmp_path: Path) -> None:
    tasks = many(300)
    ids = [t.task_id for t in tasks]
    wins: Counter[str] = Counter()
    others: Counter[object] = Counter()
    lock = threading.Lock()
    with SqliteStore(tmp_path / "store.db", tasks) as store:
        barrier = threading.Barrier(6)

        def worker(seed: int) -> None:
            order = ids[:]
            random.Random(seed).shuffle(order)
            barrier.wait()
            for task_id in order:
                decision = store.cancel(CancelRequest(HANGZHOU, task_id))
                with lock:
                    if isinstance(decision, Accepted):
                        wins[task_id] += 1
                    else:
                        others[decision.reason] += 1

        threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert wins == Counter(dict.fromkeys(ids, 1))
        assert others == Counter({Reason.INCORRECT_TASK_STATUS: 5 * len(ids)})
        statuses = {t.status for t in store.list_tasks(HANGZHOU, account=None)}
        assert statuses == {TaskStatus.DELETED}


# -- races: processes ------------------------------------------------------------------


def test_cancelled_task_keeps_every_other_field(tmp_path: Path) -> None:
    original = task(
        "t-1",
        owner="alice",
        creation_time=T0,
        resource_id="m-1",
        progress="40%",
        schedule=Schedule(queued_seconds=0, processing_seconds=100),
    )
    clock = FakeClock(T0 + timedelta(seconds=25))
    path = tmp_path / "store.db"
    with SqliteStore(path, [original], clock=clock) as store:
        decision = store.cancel(CancelRequest(HANGZHOU, "t-1"), account="alice")
    expected = attrs.evolve(
        original,
        status=TaskStatus.DELETED,
        progress="25%",
        finished_time=clock.now,
        schedule=None,
    )
    assert decision == Accepted(expected)
    with SqliteStore(path) as store:
        assert store.find_task(HANGZHOU, "t-1") == expected
