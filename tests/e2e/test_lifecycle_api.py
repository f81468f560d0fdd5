"""Scheduled task lifecycles as an API caller sees them, and state that survives restarts.

- On a :class:`~taskcancel.testing.FakeClock`, through ``EmulatorServer`` and the signing
  HTTP client: Waiting -> Processing (rising TaskProcess) -> Finished / Failed, cancel
  accepted only while Processing, FinishedTime taken from the fake clock.
- The cancel-vs-completion race at the exact end instant, identical for MemoryStore and
  SqliteStore, through InMemoryTransport and through the emulator.
- ``Schedule`` in a world file, through a real ``taskcancel serve``.
- ``taskcancel serve --store PATH --world FILE`` restarted with the same flags keeps a
  cancel (the seed does not overwrite the stored state).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.serve import ServedEmulator, start_serve, stop_serve

from taskcancel import (
    Client,
    HttpTransport,
    IncorrectTaskStatus,
    InMemoryTransport,
    MemoryStore,
    Schedule,
    SqliteStore,
    Store,
    Task,
    TaskInfo,
    TaskNotFound,
    TaskStatus,
)
from taskcancel.api._actions import DEFAULT_NEW_TASK_SCHEDULE
from taskcancel.testing import EmulatorServer, FakeClock

pytestmark = pytest.mark.usefixtures("no_proxy_env")

REGION = "cn-hangzhou"
KEY_ID, SECRET = "testid", "testsecret"
# Seconds on purpose: ECS renders task times to the minute, so 10:00:30 shows as 10:00Z.
T0 = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
IMPORT = {
    "RegionId": REGION,
    "DiskDeviceMapping.1.OSSBucket": "bucket",
    "DiskDeviceMapping.1.OSSObject": "disk.qcow2",
}


def minute(value: datetime) -> datetime:
    """A time as ECS shows it: truncated to the minute."""
    return value.replace(second=0, microsecond=0)


def scheduled(
    task_id: str,
    created: datetime,
    schedule: Schedule,
    *,
    owner: str | None = None,
    action: str = "ImportImage",
) -> Task:
    return Task(
        task_id=task_id,
        region_id=REGION,
        action=action,
        status="Processing",
        owner=owner,
        creation_time=created,
        schedule=schedule,
    )


def state(info: TaskInfo) -> tuple[TaskStatus, str | None, bool]:
    return info.status, info.progress, info.support_cancel


# ------------------------------------------------------------ lifecycle on a FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


def test_waiting_then_processing_then_cancelled(clock: FakeClock) -> None:
    task = scheduled("t-life", T0, Schedule(queued_seconds=60, processing_seconds=120))
    with EmulatorServer([task], clock=clock) as server, server.client() as client:
        # Queued: shown as Waiting, not cancellable; a cancel is refused and changes nothing.
        assert state(client.describe_task_attribute(REGION, "t-life")) == (
            TaskStatus.WAITING,
            "0%",
            False,
        )
        with pytest.raises(IncorrectTaskStatus) as caught:
            client.cancel_task(REGION, "t-life")
        assert (caught.value.code, caught.value.http_status) == ("IncorrectTaskStatus", 403)
        waiting = client.describe_task_attribute(REGION, "t-life")
        assert (waiting.status, waiting.finished_time) == (TaskStatus.WAITING, None)

        clock.advance(60)
        assert state(client.describe_task_attribute(REGION, "t-life")) == (
            TaskStatus.PROCESSING,
            "0%",
            True,
        )
        clock.advance(60)
        assert state(client.describe_task_attribute(REGION, "t-life")) == (
            TaskStatus.PROCESSING,
            "50%",
            True,
        )
        listed = client.describe_tasks(REGION).tasks
        assert [(t.task_id, t.status) for t in listed] == [("t-life", TaskStatus.PROCESSING)]

        clock.advance(seconds=5.5)  # 10:02:35.5, still the 10:02 minute
        client.cancel_task(REGION, "t-life")

        done = client.describe_task_attribute(REGION, "t-life")
        assert state(done) == (TaskStatus.DELETED, "54%", False)
        assert done.finished_time == minute(clock.now) == datetime(2026, 3, 1, 10, 2, tzinfo=UTC)
        assert done.creation_time == minute(T0)

        # Cancelled is final: the end of the window does not turn it into Finished.
        clock.advance(hours=2)
        later = client.describe_task_attribute(REGION, "t-life")
        assert (later.status, later.finished_time) == (TaskStatus.DELETED, done.finished_time)


def test_a_task_past_its_window_is_finished_for_good(clock: FakeClock) -> None:
    task = scheduled("t-done", T0, Schedule(queued_seconds=60, processing_seconds=120))
    with EmulatorServer([task], clock=clock) as server, server.client() as client:
        clock.advance(179)
        assert client.describe_task_attribute(REGION, "t-done").progress == "99%"

        clock.advance(1)
        finished = client.describe_task_attribute(REGION, "t-done")
        assert state(finished) == (TaskStatus.FINISHED, "100%", False)
        end = datetime(2026, 3, 1, 10, 3, tzinfo=UTC)  # T0 + 180 s, to the minute
        assert finished.finished_time == end
        with pytest.raises(IncorrectTaskStatus):
            client.cancel_task(REGION, "t-done")

        for step in (1, 3600, 86400 * 30):
            clock.advance(step)
            again = client.describe_task_attribute(REGION, "t-done")
            assert state(again) == (TaskStatus.FINISHED, "100%", False)
            assert again.finished_time == end
        raw = client.call("DescribeTaskAttribute", {"RegionId": REGION, "TaskId": "t-done"})
        assert (raw["SuccessCount"], raw["FailedCount"]) == (1, 0)


def test_a_failed_outcome(clock: FakeClock) -> None:
    schedule = Schedule(queued_seconds=0, processing_seconds=30, outcome=TaskStatus.FAILED)
    task = scheduled("t-fails", T0, schedule, action="ExportImage")
    with EmulatorServer([task], clock=clock) as server, server.client() as client:
        assert client.describe_task_attribute(REGION, "t-fails").status is TaskStatus.PROCESSING

        clock.advance(30)
        failed = client.describe_task_attribute(REGION, "t-fails")
        assert (failed.status, failed.support_cancel) == (TaskStatus.FAILED, False)
        assert failed.finished_time == datetime(2026, 3, 1, 10, 1, tzinfo=UTC)
        assert failed.progress != "100%"
        with pytest.raises(IncorrectTaskStatus):
            client.cancel_task(REGION, "t-fails")
        raw = client.call("DescribeTaskAttribute", {"RegionId": REGION, "TaskId": "t-fails"})
        assert (raw["TaskStatus"], raw["SuccessCount"], raw["FailedCount"]) == ("Failed", 0, 1)
        assert raw["OperationProgressSet"]["OperationProgress"][0]["OperationStatus"] == "Failed"
        page = client.describe_tasks(REGION, task_status="Failed")
        assert [t.task_id for t in page.tasks] == ["t-fails"]


def test_import_image_tasks_follow_the_default_schedule_on_the_fake_clock(
    clock: FakeClock,
) -> None:
    assert Schedule(queued_seconds=0, processing_seconds=600) == DEFAULT_NEW_TASK_SCHEDULE
    with EmulatorServer(clock=clock) as server, server.client() as client:
        task_id = client.call("ImportImage", IMPORT)["TaskId"]

        new = client.describe_task_attribute(REGION, task_id)
        assert state(new) == (TaskStatus.PROCESSING, "0%", True)
        assert new.creation_time == minute(T0)
        assert new.finished_time is None

        clock.advance(300)
        assert client.describe_task_attribute(REGION, task_id).progress == "50%"
        clock.set(T0 + timedelta(seconds=600) - timedelta(microseconds=1))
        assert state(client.describe_task_attribute(REGION, task_id)) == (
            TaskStatus.PROCESSING,
            "99%",
            True,
        )
        clock.advance(seconds=0.000001)
        done = client.describe_task_attribute(REGION, task_id)
        assert state(done) == (TaskStatus.FINISHED, "100%", False)
        assert done.finished_time == minute(T0 + timedelta(seconds=600))


def test_the_emulators_new_task_schedule_is_used_for_created_tasks(clock: FakeClock) -> None:
    slow = Schedule(queued_seconds=30, processing_seconds=90)
    with EmulatorServer(clock=clock, new_task_schedule=slow) as server, server.client() as c:
        task_id = c.call("ExportImage", {"RegionId": REGION, "ImageId": "m-1", "OSSBucket": "b"})[
            "TaskId"
        ]
        assert c.describe_task_attribute(REGION, task_id).status is TaskStatus.WAITING
        clock.advance(30 + 45)
        assert state(c.describe_task_attribute(REGION, task_id)) == (
            TaskStatus.PROCESSING,
            "50%",
            True,
        )


# ------------------------------------------------------- the cancel-vs-completion race

WINDOW = Schedule(queued_seconds=60, processing_seconds=120)
END = T0 + timedelta(seconds=180)


def _race_store(kind: str, tmp_path: Path, clock: FakeClock) -> Store:
    # "t-edge" ends exactly now; "t-inside" was created a microsecond later, so it has
    # one microsecond of processing left at the same clock reading.
    tasks = [
        scheduled("t-edge", T0, WINDOW, owner=KEY_ID),
        scheduled("t-inside", T0 + timedelta(microseconds=1), WINDOW, owner=KEY_ID),
    ]
    if kind == "memory":
        return MemoryStore(tasks, clock=clock)
    return SqliteStore(tmp_path / "race.db", tasks, clock=clock)


@pytest.fixture(params=["memory", "sqlite"])
def race_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, FakeClock]]:
    clock = FakeClock(END)
    store = _race_store(request.param, tmp_path, clock)
    yield store, clock
    store.close()


@pytest.mark.parametrize("transport", ["in-memory", "emulator"])
def test_at_the_end_instant_the_task_is_finished_and_a_microsecond_before_it_is_not(
    race_store: tuple[Store, FakeClock], transport: str
) -> None:
    store, clock = race_store
    if transport == "in-memory":
        outcomes = _race(Client(InMemoryTransport(store, account=KEY_ID)))
    else:
        with EmulatorServer(store=store) as server, server.client() as client:
            outcomes = _race(client)

    assert outcomes == {
        "edge cancels": ["IncorrectTaskStatus"] * 5,
        "edge": (TaskStatus.FINISHED, "100%", False, minute(END)),
        "inside cancel": "accepted",
        "inside": (TaskStatus.DELETED, "99%", False, minute(END)),
    }
    assert clock.now == END  # the whole race happened at one clock reading
    # What the store holds agrees with what the API said: only t-inside was written to
    # (t-edge keeps its stored status; its schedule makes it Finished when read).
    stored = {t: store.find_task(REGION, t) for t in ("t-edge", "t-inside")}
    assert {t: task.status for t, task in stored.items() if task is not None} == {
        "t-edge": TaskStatus.PROCESSING,
        "t-inside": TaskStatus.DELETED,
    }


def _race(client: Client) -> dict[str, Any]:
    edge = []
    for _ in range(5):  # refused every time, not just the first
        try:
            client.cancel_task(REGION, "t-edge")
            edge.append("accepted")
        except IncorrectTaskStatus as exc:
            edge.append(exc.code)
    client.cancel_task(REGION, "t-inside")

    def seen(task_id: str) -> tuple[Any, ...]:
        info = client.describe_task_attribute(REGION, task_id)
        return (info.status, info.progress, info.support_cancel, info.finished_time)

    return {
        "edge cancels": edge,
        "edge": seen("t-edge"),
        "inside cancel": "accepted",
        "inside": seen("t-inside"),
    }


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_emulator_over_an_empty_store_of_ones_own_uses_that_store(
    kind: str, tmp_path: Path
) -> None:
    clock = FakeClock(END)
    store: Store = (
        MemoryStore(clock=clock)
        if kind == "memory"
        else SqliteStore(tmp_path / "mine.db", clock=clock)
    )
    task = scheduled("t-inside", T0 + timedelta(microseconds=1), WINDOW)
    with EmulatorServer([task], store=store) as server, server.client() as client:
        assert server.store is store
        client.cancel_task(REGION, "t-inside")
    stored = store.find_task(REGION, "t-inside")
    store.close()
    assert stored is not None
    assert stored.status is TaskStatus.DELETED


# ------------------------------------------- Schedule in a world file, through `serve`


def _file_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _serve_world(directory: Path, tasks: list[dict[str, Any]], *args: str) -> ServedEmulator:
    world = directory / "world.json"
    world.write_text(json.dumps({"Regions": [REGION], "Tasks": tasks}))
    return start_serve(
        ["--port", "0", "--world", str(world), "--log-level", "warning", *args],
        log_path=directory / "serve.log",
    )


def _http_client(server: ServedEmulator) -> Client:
    return Client(HttpTransport(server.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET))


def test_world_file_schedules_are_applied_by_serve(tmp_path: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)

    def task(task_id: str, created: datetime | None, **schedule: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "TaskId": task_id,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
            "Schedule": {"QueuedSeconds": 0, "ProcessingSeconds": 3600, **schedule},
        }
        if created is not None:
            entry["CreationTime"] = _file_time(created)
        return entry

    minute_ago = now - timedelta(minutes=1)
    two_hours_ago = now - timedelta(hours=2)
    server = _serve_world(
        tmp_path,
        [
            task("t-running", minute_ago, Outcome="Finished"),
            task("t-ended", two_hours_ago),
            task("t-ended-failed", two_hours_ago, Outcome="Failed"),
            task("t-queued", minute_ago, QueuedSeconds=3600),
            task("t-from-start", None),  # no CreationTime: anchored when serve starts
        ],
    )
    try:
        with _http_client(server) as client:
            running = client.describe_task_attribute(REGION, "t-running")
            # 60 s into 3600 s is 1%; allow a slow machine up to 3% (108 s).
            assert running.status is TaskStatus.PROCESSING
            assert running.support_cancel
            assert running.progress is not None
            assert re.fullmatch(r"[1-3]%", running.progress), running.progress
            assert running.creation_time == minute(minute_ago)

            ended = client.describe_task_attribute(REGION, "t-ended")
            assert state(ended) == (TaskStatus.FINISHED, "100%", False)
            assert ended.finished_time == minute(two_hours_ago + timedelta(hours=1))
            with pytest.raises(IncorrectTaskStatus):
                client.cancel_task(REGION, "t-ended")

            failed = client.describe_task_attribute(REGION, "t-ended-failed")
            assert (failed.status, failed.support_cancel) == (TaskStatus.FAILED, False)

            queued = client.describe_task_attribute(REGION, "t-queued")
            assert state(queued) == (TaskStatus.WAITING, "0%", False)

            fresh = client.describe_task_attribute(REGION, "t-from-start")
            assert fresh.status is TaskStatus.PROCESSING
            assert fresh.progress in ("0%", "1%")
            assert fresh.creation_time is not None
            assert abs(fresh.creation_time - minute(now)) <= timedelta(minutes=2)

            client.cancel_task(REGION, "t-running")
            assert client.describe_task_attribute(REGION, "t-running").status is (
                TaskStatus.DELETED
            )
    finally:
        stop_serve(server.process)


# ------------------------------------------- `serve --store PATH` keeps state on restart


def test_serve_with_a_sqlite_store_keeps_a_cancel_across_restarts(tmp_path: Path) -> None:
    tasks = [
        {"TaskId": task_id, "TaskAction": "ImportImage", "TaskStatus": "Processing"}
        for task_id in ("t-cancel-me", "t-leave-me")
    ]
    store = tmp_path / "state.db"

    first = _serve_world(tmp_path, tasks, "--store", str(store))
    try:
        with _http_client(first) as client:
            client.cancel_task(REGION, "t-cancel-me")
            created = client.call("ImportImage", IMPORT)["TaskId"]
            cancelled = client.describe_task_attribute(REGION, "t-cancel-me")
    finally:
        stop_serve(first.process)

    second = _serve_world(tmp_path, tasks, "--store", str(store))  # the very same flags
    try:
        with _http_client(second) as client:
            after = client.describe_task_attribute(REGION, "t-cancel-me")
            assert (after.status, after.support_cancel) == (TaskStatus.DELETED, False)
            assert after.finished_time == cancelled.finished_time
            assert client.describe_task_attribute(REGION, "t-leave-me").status is (
                TaskStatus.PROCESSING
            )
            assert client.describe_task_attribute(REGION, created).status is (TaskStatus.PROCESSING)
            with pytest.raises(IncorrectTaskStatus):
                client.cancel_task(REGION, "t-cancel-me")
            # Still working normally after the restart.
            client.cancel_task(REGION, "t-leave-me")
            ids = sorted(t.task_id for t in client.describe_tasks(REGION).tasks)
            assert ids == sorted(["t-cancel-me", "t-leave-me", created])
    finally:
        stop_serve(second.process)

    # A fresh store file next to it starts from the world file again.
    third = _serve_world(tmp_path, tasks, "--store", str(tmp_path / "fresh.db"))
    try:
        with _http_client(third) as client:
            assert client.describe_task_attribute(REGION, "t-cancel-me").status is (
                TaskStatus.PROCESSING
            )
            with pytest.raises(TaskNotFound):
                client.describe_task_attribute(REGION, created)
    finally:
        stop_serve(third.process)


def test_a_restarted_seeded_serve_never_reuses_an_image_id(tmp_path: Path) -> None:
    args = ("--store", str(tmp_path / "state.db"), "--seed", "7")
    images = []
    for _ in range(2):
        server = _serve_world(tmp_path, [], *args)
        try:
            with _http_client(server) as client:
                images.append(client.call("ImportImage", IMPORT)["ImageId"])
        finally:
            stop_serve(server.process)
    assert images[0] != images[1]
