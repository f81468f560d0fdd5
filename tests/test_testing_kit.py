"""The testing kit: strategies, check_transport, FakeClock, ScriptedTransport."""

from __future__ import annotations

import importlib
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import hypothesis
import pytest
from hypothesis import Phase, find, given
from hypothesis import strategies as st

import taskcancel.testing
from taskcancel import (
    Accepted,
    ApiRequest,
    ApiResponse,
    CancelRequest,
    CancelTaskFailed,
    Client,
    IncorrectTaskStatus,
    InMemoryTransport,
    MemoryStore,
    MissingParameter,
    Reason,
    RegionNotFound,
    Rejected,
    Schedule,
    Task,
    TaskAction,
    TaskActionNotSupported,
    TaskNotFound,
    TaskStatus,
    ThrottlingError,
    Transport,
)
from taskcancel.testing import (
    CHECK_TRANSPORT_SETTINGS,
    EmulatorServer,
    FakeClock,
    ScriptedTransport,
    cancel_requests,
    check_transport,
    tasks,
    worlds,
)

# Failing runs stop at the first disagreement (no shrinking): the message is what counts.
FIND = hypothesis.settings(database=None, phases=[Phase.generate], max_examples=5000)
NO_SHRINK = hypothesis.settings(
    CHECK_TRANSPORT_SETTINGS, database=None, phases=[Phase.generate], max_examples=200
)
QUICK = hypothesis.settings(CHECK_TRANSPORT_SETTINGS, database=None)


def memory(tasks: list[Task]) -> Transport:
    return InMemoryTransport(MemoryStore(tasks))


def test_exported_names() -> None:
    assert sorted(taskcancel.testing.__all__) == [
        "CHECK_TRANSPORT_SETTINGS",
        "DictWorld",
        "EcsMock",
        "EmulatorServer",
        "FakeClock",
        "PROXY_VARIABLES",
        "RequestJournal",
        "ScriptedTransport",
        "ServeProcess",
        "TransportFactory",
        "accounts",
        "cancel_requests",
        "check_transport",
        "clean_env",
        "mock_ecs",
        "task_ids",
        "tasks",
        "worlds",
    ]
    # A star import resolves every name, the lazy ones included, and gives nothing else;
    # each is the object of the module that defines it.
    namespace: dict[str, object] = {}
    exec("from taskcancel.testing import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(taskcancel.testing.__all__)
    strategies = importlib.import_module("taskcancel.testing.strategies")
    for name in ("accounts", "cancel_requests", "task_ids", "tasks", "worlds"):
        assert namespace[name] is getattr(strategies, name)
    machine = importlib.import_module("taskcancel.testing._machine")
    for name in ("CHECK_TRANSPORT_SETTINGS", "TransportFactory", "check_transport"):
        assert namespace[name] is getattr(machine, name)
    for name in ("DictWorld", "EcsMock", "EmulatorServer", "FakeClock", "ServeProcess"):
        assert getattr(namespace[name], "__name__", None) == name


def test_importing_taskcancel_or_the_plugin_does_not_import_hypothesis() -> None:
    code = (
        "import sys, taskcancel, taskcancel.testing, taskcancel.testing.plugin; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
        "assert 'httptools' not in sys.modules, 'the connection layer imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- strategies ------------------------------------------------------------------------


def _outcome(world: list[Task], request: CancelRequest) -> Reason | str:
    decision = MemoryStore(world).cancel(request)
    return "accepted" if isinstance(decision, Accepted) else decision.reason


WORLD_AND_REQUEST = worlds().flatmap(lambda w: st.tuples(st.just(w), cancel_requests(world=w)))


@pytest.mark.parametrize("wanted", [*Reason, "accepted"], ids=str)
def test_worlds_and_requests_reach_every_outcome(wanted: Reason | str) -> None:
    found = find(
        WORLD_AND_REQUEST,
        lambda pair: _outcome(*pair) == wanted,
        settings=FIND,
    )
    assert _outcome(*found) == wanted


@pytest.mark.parametrize("value", [*TaskAction, *TaskStatus], ids=str)
def test_tasks_reach_every_action_and_status(value: TaskAction | TaskStatus) -> None:
    task = find(tasks(), lambda t: value in (t.action, t.status), settings=FIND)
    assert value in (task.action, task.status)


@given(tasks())
def test_tasks_are_realistic(task: Task) -> None:
    assert task.task_id.startswith("t-") and len(task.task_id) == 22
    assert task.task_id[2:].isalnum() and task.task_id == task.task_id.lower()
    assert task.owner is None and task.schedule is None
    if task.finished_time is not None:
        assert task.creation_time is not None and task.finished_time > task.creation_time


@given(
    tasks(
        regions=st.just("cn-beijing"),
        owners=st.just("acct"),
        statuses=st.just(TaskStatus.PROCESSING),
        actions=st.just(TaskAction.EXPORT_IMAGE),
        cancel_fails=st.just(False),
    )
)
def test_tasks_knobs_constrain(task: Task) -> None:
    assert (task.region_id, task.owner, task.status) == (
        "cn-beijing",
        "acct",
        TaskStatus.PROCESSING,
    )
    assert task.action is TaskAction.EXPORT_IMAGE and not task.cancel_fails


@given(worlds(min_size=2, max_size=6))
def test_worlds_load_into_a_store(world: list[Task]) -> None:
    assert 2 <= len(world) <= 6
    assert len({t.key for t in world}) == len(world)
    assert len(MemoryStore(world)) == len(world)


def test_worlds_mix_owners_and_reuse_ids() -> None:
    find(worlds(), lambda w: {t.owner for t in w} >= {None, "testid"}, settings=FIND)
    find(worlds(), lambda w: len({t.task_id for t in w}) < len(w), settings=FIND)


@pytest.mark.parametrize(
    ("label", "predicate"),
    [
        ("missing region", lambda r: r.region_id is None),
        ("empty task id", lambda r: r.task_id == ""),
        ("non-ascii", lambda r: any(not c.isascii() for c in (r.task_id or ""))),
    ],
)
def test_cancel_requests_include_malformed(
    label: str, predicate: Callable[[CancelRequest], bool]
) -> None:
    find(cancel_requests(), predicate, settings=FIND)


def test_knobs_must_be_strategies() -> None:
    with pytest.raises(TypeError, match="must be a hypothesis strategy"):
        tasks(regions="cn-hangzhou")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_size"):
        worlds(min_size=3, max_size=2)


# -- check_transport: conforming transports ------------------------------------------


def test_check_transport_passes_in_memory() -> None:
    check_transport(memory, settings=QUICK)


def test_check_transport_passes_in_memory_current_profile_and_named_account() -> None:
    check_transport(
        lambda tasks: InMemoryTransport(MemoryStore(tasks), account="LTAIx", profile="current"),
        account="LTAIx",
        profile="current",
        settings=hypothesis.settings(QUICK, max_examples=25),
    )


def test_check_transport_passes_over_http_one_server() -> None:
    # One server for the whole run; each world gets a fresh store. The emulator calls as
    # its access key, so the machine does too, and the tasks keep the owners they have.
    with EmulatorServer() as server:

        def factory(tasks: list[Task]) -> Transport:
            server.load(tasks)
            return server.client().transport

        check_transport(
            factory,
            account=server.access_key_id,
            settings=hypothesis.settings(QUICK, max_examples=15),
        )


class ServerPerWorld:
    """A transport that owns its emulator: started per world, stopped on close."""

    def __init__(self, tasks: list[Task]) -> None:
        self.server = EmulatorServer(tasks).start()
        self.inner = self.server.client().transport

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
        self.server.stop()


def test_check_transport_passes_over_http_server_per_world() -> None:
    # account=None: EmulatorServer gives ownerless tasks to its access key, so the world
    # seen from that key is the machine's world seen from None.
    check_transport(ServerPerWorld, settings=hypothesis.settings(QUICK, max_examples=4))


class StoreClosing:
    def __init__(self, transport: Transport, store: Any) -> None:
        self.transport, self.store = transport, store

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()
        self.store.close()


def test_check_transport_passes_over_sqlite(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("taskcancel._store.sqlite")

    def in_memory_transport(tasks: list[Task]) -> Transport:
        store = sqlite.SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db", tasks)
        return StoreClosing(InMemoryTransport(store), store)

    check_transport(in_memory_transport, settings=hypothesis.settings(QUICK, max_examples=20))

    with EmulatorServer() as server:

        def over_http(tasks: list[Task]) -> Transport:
            store = sqlite.SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db", tasks)
            server.load(store=store)
            return StoreClosing(server.client(signature="v1").transport, store)

        check_transport(
            over_http,
            account=server.access_key_id,
            settings=hypothesis.settings(QUICK, max_examples=10),
        )


class NoDescribe:
    """A transport that only knows CancelTask (as a user's might)."""

    def __init__(self, tasks: list[Task]) -> None:
        self.inner = memory(tasks)

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        if request.action != "CancelTask":
            body = {"RequestId": "r", "Code": "InvalidAction.NotFound", "Message": "no"}
            return ApiResponse(404, body)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_check_transport_skips_describe_when_not_supported() -> None:
    check_transport(NoDescribe, settings=hypothesis.settings(QUICK, max_examples=20))


def test_check_transport_refuses_a_non_callable() -> None:
    with pytest.raises(TypeError, match="factory"):
        check_transport("not a factory")  # type: ignore[arg-type]


# -- check_transport: broken transports -----------------------------------------------


class Broken:
    """An in-memory transport with a bug injected into its CancelTask answers."""

    def __init__(self, tasks: list[Task]) -> None:
        self.store = MemoryStore(tasks)
        self.inner = InMemoryTransport(self.store)

    def visible(self, request: ApiRequest) -> bool:
        region, task_id = request.params.get("RegionId"), request.params.get("TaskId")
        if not region or not task_id or not self.store.has_region(region):
            return False
        return self.store.get_task(region, task_id, account=None) is not None

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class LosesTasks(Broken):
    def handle_request(self, request: ApiRequest) -> ApiResponse:
        if request.action == "CancelTask" and self.visible(request):
            body = {"RequestId": "r", "Code": "InvalidTaskId.NotFound", "Message": "lost"}
            return ApiResponse(400, body)
        return self.inner.handle_request(request)


class AcceptsEverything(Broken):
    def handle_request(self, request: ApiRequest) -> ApiResponse:
        if request.action == "CancelTask":
            return ApiResponse(200, {"RequestId": "r"})
        return self.inner.handle_request(request)


class LeaksOtherTenants(Broken):
    def __init__(self, tasks: list[Task]) -> None:
        self.store = MemoryStore([attrs.evolve(t, owner=None) for t in tasks])
        self.inner = InMemoryTransport(self.store)


class DescribeForgetsCancels(Broken):
    """Cancels work, but DescribeTaskAttribute answers from the world as it began."""

    def __init__(self, tasks: list[Task]) -> None:
        super().__init__(tasks)
        self.frozen = InMemoryTransport(MemoryStore(tasks))

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        if request.action == "DescribeTaskAttribute":
            return self.frozen.handle_request(request)
        return self.inner.handle_request(request)


def _failure(factory: Callable[[list[Task]], Transport], **options: Any) -> str:
    with pytest.raises(AssertionError) as caught:
        check_transport(factory, settings=NO_SHRINK, **options)
    return str(caught.value)


def test_catches_a_transport_that_loses_tasks() -> None:
    message = _failure(LosesTasks)
    assert "the transport disagrees with the CancelTask rules on CancelTask(" in message
    assert "TaskNotFound" in message and "TASK_NOT_FOUND" in message
    assert "<-- differs" in message and "world before the call:" in message


def test_catches_a_transport_that_accepts_everything() -> None:
    message = _failure(AcceptsEverything)
    assert "<-- differs" in message
    expected, actual = next(
        line.split()[1:3] for line in message.splitlines() if line.strip().startswith("outcome")
    )
    assert expected != "success" and actual == "success"


def test_catches_a_transport_that_speaks_the_wrong_profile() -> None:
    message = _failure(lambda tasks: InMemoryTransport(MemoryStore(tasks), profile="current"))
    differing = [line.split()[0] for line in message.splitlines() if "<-- differs" in line]
    # The first disagreement is a code (RegionId.NotFound, TaskActionNotSupport, ...) or,
    # for CancelTaskFailed, whose code both profiles share, the HTTP status (400 vs 403).
    assert differing in (["code"], ["http_status"], ["code", "http_status"]), message
    code_line = next(line for line in message.splitlines() if line.strip().startswith("code"))
    if "code" in differing:
        assert any(c in code_line for c in ("InvalidRegionId.NotFound", "InvalidTaskId."))
    else:
        assert "CancelTaskFailed" in code_line
    outcome_line = next(line for line in message.splitlines() if "outcome" in line)
    assert "differs" not in outcome_line  # same class, same reason: only the code is wrong


def test_catches_a_transport_that_leaks_other_tenants_tasks() -> None:
    message = _failure(LeaksOtherTenants)
    assert "owner='tenant-" in message and "<-- differs" in message


def test_catches_a_describe_that_disagrees() -> None:
    message = _failure(DescribeForgetsCancels)
    assert "DescribeTaskAttribute(RegionId=" in message
    assert "status" in message and "Deleted" in message


# -- FakeClock -------------------------------------------------------------------------


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    clock = FakeClock(start=start)
    assert clock() == start == clock.now
    assert clock.advance(seconds=30) == start + timedelta(seconds=30)
    assert clock.advance(minutes=1, hours=1) == start + timedelta(hours=1, minutes=1, seconds=30)
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert clock.set(later) == later == clock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(seconds=-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(start)
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set(datetime(2030, 1, 1))
    assert FakeClock()() == datetime(2026, 1, 1, tzinfo=UTC)


def test_fake_clock_is_thread_safe() -> None:
    clock = FakeClock()
    start = clock()

    def tick() -> None:
        for _ in range(1000):
            clock.advance(seconds=1)

    threads = [threading.Thread(target=tick) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock() - start == timedelta(seconds=8000)


def _scheduled(clock: FakeClock) -> Task:
    return Task(
        task_id="t-scheduled00000000000",
        region_id="cn-hangzhou",
        action="ImportImage",
        status="Waiting",
        creation_time=clock(),
        schedule=Schedule(queued_seconds=10, processing_seconds=60),
    )


def test_fake_clock_drives_a_memory_store() -> None:
    clock = FakeClock()
    task = _scheduled(clock)
    store = MemoryStore([task], clock=clock)
    client = Client(InMemoryTransport(store))
    with pytest.raises(IncorrectTaskStatus):
        client.cancel_task("cn-hangzhou", task.task_id)
    clock.advance(seconds=40)
    assert client.describe_task_attribute("cn-hangzhou", task.task_id).progress == "50%"
    client.cancel_task("cn-hangzhou", task.task_id)
    info = client.describe_task_attribute("cn-hangzhou", task.task_id)
    assert info.status is TaskStatus.DELETED
    assert info.finished_time == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # minutes resolution


def test_fake_clock_drives_the_emulator() -> None:
    clock = FakeClock()
    task = _scheduled(clock)
    with EmulatorServer([task], clock=clock) as server, server.client() as client:
        assert client.describe_task_attribute("cn-hangzhou", task.task_id).status.value == "Waiting"
        clock.advance(minutes=5)
        assert (
            client.describe_task_attribute("cn-hangzhou", task.task_id).status.value == "Finished"
        )


# -- ScriptedTransport -----------------------------------------------------------------

RUNNING = Task(
    task_id="t-running0000000000000",
    region_id="cn-hangzhou",
    action="ImportImage",
    status="Processing",
)
DONE = Task(
    task_id="t-finished000000000000",
    region_id="cn-hangzhou",
    action="ExportImage",
    status="Finished",
)
REDEPLOY = Task(
    task_id="t-redeploy000000000000",
    region_id="cn-hangzhou",
    action="RedeployInstance",
    status="Processing",
)


def test_scripted_happy_path() -> None:
    with ScriptedTransport([DONE]) as transport:
        transport.expect_cancel(RUNNING, "success")
        transport.expect_cancel(RUNNING, IncorrectTaskStatus)  # cancelled by the call before
        transport.expect_cancel(DONE, Reason.INCORRECT_TASK_STATUS)
        transport.expect_cancel(REDEPLOY, TaskActionNotSupported)
        transport.expect_cancel(("cn-hangzhou", "t-nosuchtask000000000"), TaskNotFound)
        transport.expect_cancel(("cn-nowhere", "t-x"), RegionNotFound)
        transport.expect_cancel(CancelRequest("cn-hangzhou", None), MissingParameter)
        transport.expect_cancel(RUNNING, ThrottlingError)
        client = Client(transport)
        assert client.describe_task_attribute("cn-hangzhou", RUNNING.task_id).support_cancel
        client.cancel_task("cn-hangzhou", RUNNING.task_id)
        info = client.describe_task_attribute("cn-hangzhou", RUNNING.task_id)
        assert info.status is TaskStatus.DELETED
        with pytest.raises(IncorrectTaskStatus) as status_error:
            client.cancel_task("cn-hangzhou", RUNNING.task_id)
        assert (status_error.value.code, status_error.value.http_status) == (
            "IncorrectTaskStatus",
            403,
        )
        with pytest.raises(IncorrectTaskStatus):
            client.cancel_task("cn-hangzhou", DONE.task_id)
        with pytest.raises(TaskActionNotSupported):
            client.cancel_task("cn-hangzhou", REDEPLOY.task_id)
        with pytest.raises(TaskNotFound):
            client.cancel_task("cn-hangzhou", "t-nosuchtask000000000")
        with pytest.raises(RegionNotFound) as region_error:
            client.cancel_task("cn-nowhere", "t-x")
        assert region_error.value.code == "RegionId.NotFound"
        with pytest.raises(MissingParameter) as missing:
            client.cancel_task("cn-hangzhou", "")
        assert missing.value.reason is Reason.MISSING_TASK_ID
        with pytest.raises(ThrottlingError):
            client.cancel_task("cn-hangzhou", RUNNING.task_id)
    assert [call.action for call in transport.calls].count("CancelTask") == 8


def test_scripted_speaks_the_chosen_profile_and_can_fail_a_cancel() -> None:
    transport = ScriptedTransport(profile="current")
    transport.expect_cancel(RUNNING, Reason.CANCEL_FAILED)
    transport.expect_cancel(("cn-nowhere", "t-x"), Reason.REGION_NOT_FOUND)
    transport.expect_cancel(RUNNING, "success")  # the failed cancel changed nothing
    client = Client(transport)
    with pytest.raises(CancelTaskFailed) as failed:
        client.cancel_task("cn-hangzhou", RUNNING.task_id)
    assert failed.value.http_status == 403
    with pytest.raises(RegionNotFound, match=r"InvalidRegionId\.NotFound"):
        client.cancel_task("cn-nowhere", "t-x")
    client.cancel_task("cn-hangzhou", RUNNING.task_id)
    transport.assert_all_called()


@pytest.mark.parametrize(
    ("world", "target", "outcome", "because"),
    [
        ([], DONE, "success", "the rules give IncorrectTaskStatus .* is Finished"),
        ([RUNNING], ("cn-hangzhou", RUNNING.task_id), TaskNotFound, "the rules give success or"),
        ([], REDEPLOY, "success", "RedeployInstance task; only ExportImage, ImportImage"),
        ([], attrs.evolve(RUNNING, cancel_fails=True), "success", "cancelling it fails"),
        ([], ("cn-hangzhou", "t-nope"), "success", "there is no task 't-nope'"),
        ([RUNNING], ("cn-beijing", RUNNING.task_id), "success", "exists in cn-hangzhou"),
        (
            [attrs.evolve(RUNNING, owner="other")],
            ("cn-hangzhou", RUNNING.task_id),
            "success",
            "belongs to account 'other'",
        ),
        ([], ("cn-hangzhou", "t-x"), RegionNotFound, "the rules give TaskNotFound"),
        ([], (None, "t-x"), Reason.MISSING_TASK_ID, "RegionId is missing"),
    ],
)
def test_scripted_refuses_impossible_outcomes(
    world: list[Task], target: Any, outcome: Any, because: str
) -> None:
    transport = ScriptedTransport(world)
    with pytest.raises(ValueError, match=because):
        transport.expect_cancel(target, outcome)


def test_scripted_refuses_a_second_success() -> None:
    transport = ScriptedTransport()
    transport.expect_cancel(RUNNING, "success")
    with pytest.raises(ValueError, match=r"call #2 .* is Deleted"):
        transport.expect_cancel(RUNNING, "success")


def test_scripted_refuses_bad_arguments() -> None:
    transport = ScriptedTransport([RUNNING])
    with pytest.raises(ValueError, match="already in the world"):
        transport.expect_cancel(attrs.evolve(RUNNING, status="Finished"), IncorrectTaskStatus)
    with pytest.raises(TypeError, match="outcome must be"):
        transport.expect_cancel(RUNNING, "accepted")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes a Task"):
        transport.expect_cancel("t-1", "success")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeless"):
        transport.add_task(_scheduled(FakeClock()))


def test_scripted_out_of_order_call_names_both() -> None:
    transport = ScriptedTransport()
    transport.expect_cancel(RUNNING, "success")
    client = Client(transport)
    with pytest.raises(AssertionError) as caught:
        client.cancel_task("cn-hangzhou", "t-other")
    message = str(caught.value)
    assert "call #1 out of script" in message
    want = f"expected: CancelTask(RegionId='cn-hangzhou', TaskId='{RUNNING.task_id}') -> success"
    assert want in message
    assert "got:      CancelTask(RegionId='cn-hangzhou', TaskId='t-other')" in message
    client.cancel_task("cn-hangzhou", RUNNING.task_id)  # the script is still where it was
    with pytest.raises(AssertionError, match="all 1 scripted CancelTask calls were already made"):
        client.cancel_task("cn-hangzhou", RUNNING.task_id)


def test_scripted_assert_all_called() -> None:
    transport = ScriptedTransport()
    transport.expect_cancel(RUNNING, "success")
    transport.expect_cancel(DONE, IncorrectTaskStatus)
    Client(transport).cancel_task("cn-hangzhou", RUNNING.task_id)
    with pytest.raises(
        AssertionError, match=r"1 scripted CancelTask call\(s\) never made"
    ) as caught:
        transport.assert_all_called()
    assert DONE.task_id in str(caught.value)
    with pytest.raises(AssertionError, match="never made"), transport:
        pass


def test_scripted_outcomes_agree_with_the_store() -> None:
    # Whatever the rules allow to be scripted is what a real store answers.
    @given(WORLD_AND_REQUEST)
    @hypothesis.settings(max_examples=200, database=None)
    def check(pair: tuple[list[Task], CancelRequest]) -> None:
        world, request = pair
        expected = MemoryStore(world).cancel(request)
        transport = ScriptedTransport(world)
        outcome: Reason | str = "success"
        if isinstance(expected, Rejected):
            outcome = expected.reason
        transport.expect_cancel(request, outcome)  # type: ignore[arg-type]

    check()
