"""Injected faults as a caller sees them: throttling, latency, failing cancels, and reset.

- ``"Faults"`` in a world file makes a real ``taskcancel serve`` throttle every call:
  the official new SDK raises ``ThrottlingException`` with ``retry_after``, our
  ``Client`` raises ``ThrottlingError`` with ``retry_after_ms``.
- ``EmulatorServer.set_faults``: a throttle rate decided by the injected ``chance``
  (deterministic), and latency paid through the injected ``sleep`` (never a real sleep).
- ``CancelFails`` in a world file and ``server.fail_cancel(...)``: CancelTaskFailed with
  the profile's code and status, and the task stays Processing.
- ``server.reset()`` restores the initial world and clears the faults.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from _serve import REQUEST_ID, ServedEmulator, start_serve, stop_serve
from alibabacloud_ecs20140526 import models as ecs
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.exceptions import ClientException, ThrottlingException
from alibabacloud_tea_openapi.models import Config

from taskcancel import (
    CancelRejected,
    CancelTaskFailed,
    Client,
    HttpTransport,
    MemoryStore,
    SqliteStore,
    Store,
    Task,
    TaskNotFound,
    TaskStatus,
    ThrottlingError,
    wire,
)
from taskcancel.server import RawRequest
from taskcancel.testing import EmulatorServer
from taskcancel.worldfile import load_world

pytestmark = pytest.mark.usefixtures("no_proxy_env")

REGION = "cn-hangzhou"
KEY_ID, SECRET = "testid", "testsecret"
IMPORT = {
    "RegionId": REGION,
    "DiskDeviceMapping.1.OSSBucket": "bucket",
    "DiskDeviceMapping.1.OSSObject": "disk.qcow2",
}
CANCEL_FAILED = {
    "2017": ("CancelTaskFailed", 400),
    "current": ("CancelTaskFailed", 403),
}
CANCEL_FAILED_MESSAGE = "The task is failed to cancel, Please contact the administrator."


def processing(task_id: str, **fields: Any) -> Task:
    return Task(
        task_id=task_id, region_id=REGION, action="ImportImage", status="Processing", **fields
    )


def write_world(path: Path, **top: Any) -> Path:
    world = {"Regions": [REGION], "Accounts": [{"AccessKeyId": KEY_ID, "AccessKeySecret": SECRET}]}
    path.write_text(json.dumps({**world, **top}))
    return path


def sdk(netloc: str) -> EcsClient:
    return EcsClient(
        Config(
            access_key_id=KEY_ID,
            access_key_secret=SECRET,
            region_id=REGION,
            endpoint=netloc,
            protocol="HTTP",
        )
    )


def status_of(client: Client, task_id: str) -> tuple[TaskStatus, bool]:
    info = client.describe_task_attribute(REGION, task_id)
    return info.status, info.support_cancel


# -------------------------------------------------- throttling from the world file (serve)


@pytest.fixture(scope="module")
def throttled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedEmulator]:
    directory = tmp_path_factory.mktemp("throttled")
    world = write_world(
        directory / "world.json",
        Tasks=[{"TaskId": "t-1", "TaskAction": "ImportImage", "TaskStatus": "Processing"}],
        Faults={"ThrottleRate": 1.0, "RetryAfterMs": 1500},
    )
    server = start_serve(
        ["--port", "0", "--world", str(world), "--log-level", "warning"],
        log_path=directory / "serve.log",
    )
    yield server
    stop_serve(server.process)


SDK_CALLS: dict[str, Callable[[EcsClient], Any]] = {
    "CancelTask": lambda c: c.cancel_task(ecs.CancelTaskRequest(region_id=REGION, task_id="t-1")),
    "DescribeTasks": lambda c: c.describe_tasks(ecs.DescribeTasksRequest(region_id=REGION)),
    "DescribeTaskAttribute": lambda c: c.describe_task_attribute(
        ecs.DescribeTaskAttributeRequest(region_id=REGION, task_id="t-1")
    ),
    "ImportImage": lambda c: c.import_image(
        ecs.ImportImageRequest(
            region_id=REGION,
            disk_device_mapping=[
                ecs.ImportImageRequestDiskDeviceMapping(ossbucket="b", ossobject="o")
            ],
        )
    ),
    "ExportImage": lambda c: c.export_image(
        ecs.ExportImageRequest(region_id=REGION, image_id="m-1", ossbucket="b")
    ),
}


@pytest.mark.parametrize("action", sorted(SDK_CALLS))
def test_the_new_sdk_is_throttled_with_the_retry_hint(
    throttled: ServedEmulator, action: str
) -> None:
    with pytest.raises(ThrottlingException) as caught:
        SDK_CALLS[action](sdk(throttled.netloc))

    error = caught.value
    assert error.retry_after == 1500
    assert (error.code, error.status_code) == ("Throttling.User", 400)
    assert error.data["Message"] == "Request was denied due to user flow control."
    assert REQUEST_ID.fullmatch(error.request_id)


@pytest.mark.parametrize("signature", ["acs3", "v1"])
def test_our_client_raises_throttling_error_with_the_retry_hint(
    throttled: ServedEmulator, signature: str
) -> None:
    transport = HttpTransport(
        throttled.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET, signature=signature
    )
    with Client(transport) as client:
        for call in (
            lambda: client.cancel_task(REGION, "t-1"),
            lambda: client.describe_tasks(REGION),
            lambda: client.call("ImportImage", IMPORT),
        ):
            with pytest.raises(ThrottlingError) as caught:
                call()
            error = caught.value
            assert not isinstance(error, CancelRejected)
            assert error.retry_after_ms == 1500
            assert (error.code, error.http_status) == ("Throttling.User", 400)
            assert REQUEST_ID.fullmatch(error.request_id)


# ------------------------------------------------- throttling decided by injected chance


class Chances:
    """``chance=`` for the emulator: hands out the given draws and counts them."""

    def __init__(self, *draws: float) -> None:
        self.draws = list(draws)
        self.used = 0

    def __call__(self) -> float:
        value = self.draws[self.used]
        self.used += 1
        return value


def _throttle_run() -> tuple[list[str], int]:
    chance = Chances(0.2, 0.7, 0.5, 0.49)
    with EmulatorServer([processing("t-a")], chance=chance) as server, server.client() as client:
        server.set_faults(throttle_rate=0.5)
        outcomes: list[str] = []
        for call in (
            lambda: client.cancel_task(REGION, "t-a"),  # 0.2 < 0.5: throttled
            lambda: status_of(client, "t-a"),  # 0.7: answered (still Processing)
            lambda: client.cancel_task(REGION, "t-a"),  # 0.5 is not < 0.5: answered
            lambda: status_of(client, "t-a"),  # 0.49: throttled
        ):
            try:
                result = call()
            except ThrottlingError as exc:
                assert exc.retry_after_ms == 1000  # the default hint
                outcomes.append("throttled")
            else:
                outcomes.append("ok" if isinstance(result, str) else f"{result[0].value}")
        server.set_faults(throttle_rate=0.0)
        # No throttling: no draw is taken, and the task shows the one cancel that got through.
        final = status_of(client, "t-a")
        assert final == (TaskStatus.DELETED, False)
        return outcomes, chance.used


def test_a_throttle_rate_throttles_exactly_the_draws_below_it() -> None:
    first = _throttle_run()
    assert first == (["throttled", "Processing", "ok", "throttled"], 4)
    assert _throttle_run() == first  # deterministic


def test_set_faults_refuses_a_rate_outside_0_to_1() -> None:
    server = EmulatorServer()
    for rate in (-0.1, 1.5):
        with pytest.raises(ValueError, match="throttle_rate"):
            server.set_faults(throttle_rate=rate)


# ------------------------------------------------ latency: the answer's delay (sans-IO)


def delay_of(server: EmulatorServer, task_id: str = "t-a") -> float:
    """The latency the app asks the connection layer to pay before answering a cancel."""
    request = wire.v1.build_request(
        "CancelTask",
        {"RegionId": REGION, "TaskId": task_id},
        access_key_id=server.access_key_id,
        secret=server.access_key_secret,
        nonce=uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
    )
    headers = [(k.encode(), v.encode()) for k, v in request.headers]
    answer = server.app.handle(RawRequest(request.method, request.target.encode(), headers, b""))
    assert answer.response.status == 200, answer.response.body
    return answer.delay


def test_latency_is_asked_of_the_connection_layer_and_the_call_succeeds() -> None:
    tasks = [processing("t-a"), processing("t-b"), processing("t-c")]
    with EmulatorServer(tasks) as server:
        assert delay_of(server, "t-b") == 0  # no latency configured, no waiting
        server.set_faults(latency_ms=250)
        assert delay_of(server, "t-c") == 0.25
        with server.client() as client:  # and over HTTP the call still succeeds
            assert REQUEST_ID.fullmatch(client.cancel_task(REGION, "t-a"))
            assert status_of(client, "t-a") == (TaskStatus.DELETED, False)


def test_latency_from_the_world_file(tmp_path: Path) -> None:
    spec = load_world(
        write_world(
            tmp_path / "world.json",
            Tasks=[{"TaskId": "t-a", "TaskAction": "ExportImage", "TaskStatus": "Processing"}],
            Faults={"LatencyMs": 40},
        )
    )
    assert delay_of(EmulatorServer(spec)) == 0.04


# ------------------------------------------------------------------- failing cancels


@pytest.mark.parametrize("profile", sorted(CANCEL_FAILED))
def test_cancel_fails_from_the_world_file(tmp_path: Path, profile: str) -> None:
    spec = load_world(
        write_world(
            tmp_path / "world.json",
            Tasks=[
                {
                    "TaskId": "t-stuck",
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Processing",
                    "CancelFails": True,
                },
                {"TaskId": "t-fine", "TaskAction": "ImportImage", "TaskStatus": "Processing"},
            ],
        )
    )
    with EmulatorServer(spec, profile=profile) as server, server.client() as client:
        with pytest.raises(CancelTaskFailed) as caught:
            client.cancel_task(REGION, "t-stuck")
        assert (caught.value.code, caught.value.http_status) == CANCEL_FAILED[profile]
        assert caught.value.message == CANCEL_FAILED_MESSAGE

        with pytest.raises(ClientException) as sdk_caught:
            sdk(f"{server.host}:{server.port}").cancel_task(
                ecs.CancelTaskRequest(region_id=REGION, task_id="t-stuck")
            )
        assert (sdk_caught.value.code, sdk_caught.value.status_code) == CANCEL_FAILED[profile]

        assert status_of(client, "t-stuck") == (TaskStatus.PROCESSING, True)
        client.cancel_task(REGION, "t-fine")  # only the marked task fails
        assert status_of(client, "t-fine") == (TaskStatus.DELETED, False)


@pytest.mark.parametrize("profile", sorted(CANCEL_FAILED))
def test_fail_cancel_makes_a_task_fail_until_cleared(profile: str) -> None:
    with EmulatorServer([processing("t-a")], profile=profile) as server, server.client() as c:
        created = c.call("ImportImage", IMPORT)["TaskId"]
        for task_id in ("t-a", created):
            server.fail_cancel(REGION, task_id)
            for _ in range(2):
                with pytest.raises(CancelTaskFailed) as caught:
                    c.cancel_task(REGION, task_id)
                assert (caught.value.code, caught.value.http_status) == CANCEL_FAILED[profile]
            assert status_of(c, task_id) == (TaskStatus.PROCESSING, True)

        server.fail_cancel(REGION, "t-a", fails=False)
        c.cancel_task(REGION, "t-a")
        assert status_of(c, "t-a") == (TaskStatus.DELETED, False)
        with pytest.raises(CancelTaskFailed):
            c.cancel_task(REGION, created)  # still marked

        with pytest.raises(KeyError):
            server.fail_cancel(REGION, "t-no-such-task")


# ------------------------------------------------------------------------------ reset


@pytest.fixture(params=["memory", "sqlite"])
def reset_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EmulatorServer]:
    tasks = [processing("t-a"), processing("t-b")]
    store: Store | None = None
    if request.param == "sqlite":
        owned = [processing(t.task_id, owner=KEY_ID) for t in tasks]
        store = SqliteStore(tmp_path / "reset.db", owned)
        tasks = []
    with EmulatorServer(tasks, store=store) as server:
        yield server
    if store is not None:
        store.close()


def test_reset_restores_the_initial_world_and_clears_faults(
    reset_server: EmulatorServer,
) -> None:
    server = reset_server
    with server.client() as client:
        client.cancel_task(REGION, "t-a")
        server.add_task(processing("t-added"))
        created = client.call("ImportImage", IMPORT)["TaskId"]
        server.fail_cancel(REGION, "t-b")
        server.set_faults(throttle_rate=1.0, latency_ms=500)
        with pytest.raises(ThrottlingError):
            client.describe_tasks(REGION)

        server.reset()

        page = client.describe_tasks(REGION)  # not throttled any more
        assert sorted((t.task_id, t.status) for t in page.tasks) == [
            ("t-a", TaskStatus.PROCESSING),
            ("t-b", TaskStatus.PROCESSING),
        ]
        for gone in ("t-added", created):
            with pytest.raises(TaskNotFound):
                client.describe_task_attribute(REGION, gone)
        client.cancel_task(REGION, "t-b")  # the injected failure is gone too
        client.cancel_task(REGION, "t-a")  # and the cancelled task can be cancelled again
        assert status_of(client, "t-a") == (TaskStatus.DELETED, False)
    assert server.faults.latency_ms == 0  # the latency was cleared too


def test_reset_keeps_the_servers_own_tasks_when_a_store_is_given() -> None:
    store = MemoryStore([processing("t-store", owner=KEY_ID)])
    with EmulatorServer([processing("t-world")], store=store) as server, server.client() as c:
        before = sorted(t.task_id for t in c.describe_tasks(REGION).tasks)
        server.reset()
        after = sorted(t.task_id for t in c.describe_tasks(REGION).tasks)
    assert before == ["t-store", "t-world"]
    assert after == before
