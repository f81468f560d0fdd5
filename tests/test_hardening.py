"""Inputs found by review that once escaped as 500s, tracebacks or wrong answers."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from taskcancel import ApiError, Client, InMemoryTransport, MemoryStore, Task, TaskStatus, wire
from taskcancel.server import RawRequest, RequestLog, create_app
from taskcancel.testing import EmulatorServer, ServeProcess
from taskcancel.worldfile import Faults, WorldFileError, parse_world

RUNNING = Task(
    task_id="t-hardening0000000001",
    region_id="cn-hangzhou",
    action="ImportImage",
    status="Processing",
)


def test_a_page_number_too_long_for_int_is_an_invalid_parameter() -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises(ApiError) as error:
        client.call("DescribeTasks", {"RegionId": "cn-hangzhou", "PageNumber": "1" * 4400})
    assert (error.value.code, error.value.http_status) == ("InvalidParameter", 400)


def test_an_overlong_image_id_is_refused_not_stored() -> None:
    store = MemoryStore()
    client = Client(InMemoryTransport(store))
    params = {"RegionId": "cn-hangzhou", "ImageId": "m-" + "x" * 200, "OSSBucket": "b"}
    with pytest.raises(ApiError) as error:
        client.call("ExportImage", params)
    assert error.value.code == "InvalidParameter"
    assert store.list_tasks("cn-hangzhou", account=None) == []


def test_a_naive_clock_reads_as_utc_for_cancels_too() -> None:
    store = MemoryStore([RUNNING], clock=lambda: datetime(2026, 1, 1, 12, 0))
    client = Client(InMemoryTransport(store))
    client.cancel_task("cn-hangzhou", RUNNING.task_id)
    task = store.get_task("cn-hangzhou", RUNNING.task_id, account=None)
    assert task is not None and task.status is TaskStatus.DELETED
    assert task.finished_time == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("owner", [["testid"], 7, None])
def test_a_task_owner_that_is_not_a_string_is_a_world_file_error(owner: object) -> None:
    task = {"TaskId": "t-1", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage"}
    data = {"Tasks": [{**task, "TaskStatus": "Processing", "AccessKeyId": owner}]}
    with pytest.raises(WorldFileError) as error:
        parse_world(data, source="w.json")
    assert error.value.field == "Tasks[0].AccessKeyId"


def test_reset_restores_the_faults_the_server_started_with() -> None:
    with EmulatorServer([RUNNING], faults=Faults(latency_ms=5)) as server:
        server.set_faults(throttle_rate=1.0)
        server.reset()
        assert server.faults == Faults(latency_ms=5)


def test_an_internal_error_answers_in_the_format_asked_for() -> None:
    class Broken(MemoryStore):
        def cancel(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
            raise RuntimeError("boom")

    with EmulatorServer(store=Broken([RUNNING])) as server:
        request = wire.v1.build_request(
            "CancelTask",
            {"RegionId": "cn-hangzhou", "TaskId": RUNNING.task_id},
            access_key_id=server.access_key_id,
            secret=server.access_key_secret,
            nonce="internal-error-xml",
            timestamp=datetime.now(UTC),
            response_format="XML",
        )
        reply = httpx.post(server.endpoint + request.target, headers=list(request.headers))
    assert reply.status_code == 500
    assert reply.headers["content-type"] == wire.XML_CONTENT_TYPE
    assert b"<Code>InternalError</Code>" in reply.content
    assert b"Traceback" not in reply.content


def test_unknown_actions_are_not_logged_verbatim() -> None:
    forged = "X\n2026-01-01T00:00:00.000Z INFO request RequestId=1 Action=CancelTask Code=OK"
    app = create_app(MemoryStore())
    request = wire.v1.build_request(
        forged,
        {"RegionId": "cn-hangzhou\r\nfake"},
        access_key_id="testid",
        secret="testsecret",
        nonce="forged-log",
        timestamp=datetime.now(UTC),
    )
    # V1 reads the action from the signed query only; headers cannot hold a newline.
    headers = [(k.encode(), v.encode()) for k, v in request.headers if k.lower() != "x-acs-action"]
    answer = app.handle(RawRequest("POST", request.target.encode(), headers, b""))
    assert answer.response.status == 404
    stream = io.StringIO()
    log = RequestLog(stream)
    log.record(answer, 0.001)
    log.flush()
    (line,) = stream.getvalue().splitlines()
    assert 'Action="(unknown action)" ' in line  # a value with a space is quoted
    assert 'RegionId="cn-hangzhou\\r\\nfake" ' in line  # escaped, on the one line
    assert line.endswith("Code=InvalidAction.NotFound Status=404 LatencyMs=1.00")


def test_the_banner_example_uses_a_task_of_the_printed_account(tmp_path: Path) -> None:
    world = {
        "Accounts": [
            {"AccessKeyId": "alice", "AccessKeySecret": "a-secret"},
            {"AccessKeyId": "bob", "AccessKeySecret": "b-secret"},
        ],
        "Tasks": [
            {"TaskId": "t-bob", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
             "TaskStatus": "Processing", "AccessKeyId": "bob"},
            {"TaskId": "t-alice", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
             "TaskStatus": "Processing", "AccessKeyId": "alice"},
        ],
    }  # fmt: skip
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    with ServeProcess(["--port", "0", "--world", str(path)]) as served:
        (example,) = [line for line in served.banner if line.startswith("try: ")]
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID=alice" in example
    assert example.endswith("--task t-alice")


def test_tasks_created_through_the_api_are_capped_per_account_and_region() -> None:
    with EmulatorServer(max_tasks_per_account=3) as server:
        with server.client() as client:
            params = {"RegionId": "cn-hangzhou", "ImageId": "m-1", "OSSBucket": "b"}
            for _ in range(3):
                client.call("ExportImage", params)
            with pytest.raises(ApiError) as error:
                client.call("ExportImage", params)
            assert (error.value.code, error.value.http_status) == ("QuotaExceed.Task", 403)
            client.call("ExportImage", {**params, "RegionId": "cn-shanghai"})  # another region
        assert len(server.store.list_tasks("cn-hangzhou", account=server.access_key_id)) == 3
