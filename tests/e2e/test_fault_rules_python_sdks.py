"""Fault rules against the official Python SDKs: the new one (alibabacloud-ecs20140526)
and the old one (aliyun-python-sdk-core), over real sockets.

Every ``Error`` kind surfaces as the SDK's documented exception with the code and status;
every wire ``Fault`` surfaces as the SDK's transport error within its own (short) read
timeout, never a hang; ``reset-after`` really cancels while the client sees an error, and
the retry gets ``IncorrectTaskStatus``; a seeded ``Probability`` gives the same sequence
on two servers started with the same seed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import (
    ClientException,
    ServerException,
    ThrottlingException,
)
from alibabacloud_tea_util.models import RuntimeOptions  # type: ignore[import-untyped]
from aliyunsdkcore.acs_exception import exceptions as old_exceptions
from aliyunsdkcore.client import AcsClient
from aliyunsdkecs.request.v20140526.CancelTaskRequest import CancelTaskRequest
from darabonba.exceptions import UnretryableException

from taskcancel import Task, TaskAction, TaskStatus
from taskcancel.testing import EmulatorServer, FaultRule

pytestmark = pytest.mark.usefixtures("no_proxy_env")

REGION = "cn-hangzhou"
TASKS = [f"t-fault-{n:02d}" for n in range(40)]
READ_TIMEOUT_S = 2
#: How long a call may take before the test calls it a hang (the SDK's timeout is 2 s).
HANG_S = 20

#: Every Error kind: (code, HTTP status, the new SDK's exception for it).
ERRORS = [
    ("Throttling.User", 400, ThrottlingException),
    ("Throttling.Api", 400, ThrottlingException),
    ("ServiceUnavailable", 503, ServerException),
    ("InternalError", 500, ServerException),
    ("IncorrectTaskStatus", 403, ClientException),
    ("CancelTaskFailed", 400, ClientException),
    ("InvalidTaskId.NotFound", 400, ClientException),
]
FAULTS = ["reset", "reset-after", "stall", "truncate"]


def processing(task_id: str) -> Task:
    return Task(
        task_id=task_id,
        region_id=REGION,
        action=TaskAction.IMPORT_IMAGE,
        status=TaskStatus.PROCESSING,
    )


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer([processing(t) for t in TASKS], seed=11) as running:
        yield running


@pytest.fixture
def emulator(server: EmulatorServer) -> EmulatorServer:
    server.reset()
    return server


def within(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or the exception it raised (returned); a hang fails."""
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(call())
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), f"the SDK call did not return within {HANG_S} s"
    return box[0]


def new_sdk_cancel(server: EmulatorServer, task_id: str) -> Any:
    client = EcsClient(server.sdk_config(REGION))
    runtime = RuntimeOptions(
        autoretry=False, read_timeout=READ_TIMEOUT_S * 1000, connect_timeout=2000
    )
    request = ecs.CancelTaskRequest(region_id=REGION, task_id=task_id)
    return within(lambda: client.cancel_task_with_options(request, runtime))


def old_sdk_cancel(server: EmulatorServer, task_id: str) -> Any:
    client = AcsClient(
        server.access_key_id,
        server.access_key_secret,
        REGION,
        auto_retry=False,
        connect_timeout=2,
        timeout=READ_TIMEOUT_S,
    )
    request = CancelTaskRequest()
    request.set_endpoint(f"{server.host}:{server.port}")
    request.set_TaskId(task_id)
    return within(lambda: client.do_action_with_exception(request))


def rule_for(task_id: str, **outcome: Any) -> FaultRule:
    return FaultRule(name=f"on-{task_id}", action="CancelTask", task_id=task_id, every=1, **outcome)


def status(server: EmulatorServer, task_id: str) -> TaskStatus:
    found = server.store.find_task(REGION, task_id)
    assert found is not None
    return found.status


@pytest.mark.parametrize(("code", "http_status", "exception"), ERRORS)
def test_the_new_sdk_raises_its_documented_exception_for_each_error(
    emulator: EmulatorServer, code: str, http_status: int, exception: type[Exception]
) -> None:
    emulator.set_faults(rules=[rule_for(TASKS[0], error=code)], retry_after_ms=700)
    raised: Any = new_sdk_cancel(emulator, TASKS[0])
    kind: type = type(raised)
    assert kind is exception, repr(raised)
    assert (raised.code, raised.status_code) == (code, http_status)
    if exception is ThrottlingException:
        assert raised.retry_after == 700
    assert status(emulator, TASKS[0]) is TaskStatus.PROCESSING  # nothing changed


@pytest.mark.parametrize(("code", "http_status", "_"), ERRORS)
def test_the_old_sdk_raises_server_exception_for_each_error(
    emulator: EmulatorServer, code: str, http_status: int, _: Any
) -> None:
    emulator.set_faults(rules=[rule_for(TASKS[1], error=code)])
    raised = old_sdk_cancel(emulator, TASKS[1])
    assert isinstance(raised, old_exceptions.ServerException), repr(raised)
    assert (raised.get_error_code(), raised.get_http_status()) == (code, http_status)
    assert status(emulator, TASKS[1]) is TaskStatus.PROCESSING


@pytest.mark.parametrize("fault", FAULTS)
def test_each_wire_fault_is_a_transport_error_in_both_sdks_never_a_hang(
    emulator: EmulatorServer, fault: str
) -> None:
    new_task, old_task = TASKS[2], TASKS[3]
    stall = {"stall_seconds": 15} if fault == "stall" else {}
    emulator.set_faults(rules=[rule_for(t, fault=fault, **stall) for t in (new_task, old_task)])
    raised = new_sdk_cancel(emulator, new_task)
    assert isinstance(raised, UnretryableException), repr(raised)  # its transport error
    old: Any = old_sdk_cancel(emulator, old_task)
    if fault == "truncate":
        # The old SDK does not notice a short body: it returns the bytes that came, which
        # are not the JSON of an answer.
        assert isinstance(old, bytes), repr(old)
        with pytest.raises(ValueError):
            json.loads(old)
    else:
        assert isinstance(old, old_exceptions.ClientException), repr(old)
        assert old.get_error_code() == "SDK.HttpError"
    done = fault in ("reset-after", "truncate")
    for task_id in (new_task, old_task):
        assert status(emulator, task_id) is (TaskStatus.DELETED if done else TaskStatus.PROCESSING)


def test_reset_after_cancels_while_the_client_sees_an_error_and_the_retry_is_refused(
    emulator: EmulatorServer,
) -> None:
    task_id = TASKS[4]
    emulator.set_faults(
        rules=[FaultRule(name="lost-answer", task_id=task_id, first=1, fault="reset-after")]
    )
    assert isinstance(new_sdk_cancel(emulator, task_id), UnretryableException)
    assert status(emulator, task_id) is TaskStatus.DELETED
    retry = new_sdk_cancel(emulator, task_id)
    assert isinstance(retry, ClientException)
    assert (retry.code, retry.status_code) == ("IncorrectTaskStatus", 403)


def test_a_seeded_probability_gives_the_same_answers_on_two_servers() -> None:
    rule = FaultRule(name="coin", action="CancelTask", probability=0.5, error="ServiceUnavailable")
    runs = []
    for _ in range(2):
        with EmulatorServer([processing(t) for t in TASKS], seed=2026) as started:
            started.set_faults(rules=[rule])
            outcomes = []
            for task_id in TASKS[:16]:
                raised = new_sdk_cancel(started, task_id)
                outcomes.append(getattr(raised, "code", "OK"))
            runs.append(outcomes)
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"OK", "ServiceUnavailable"}
