"""Action parameters past what the contract allows: refused cleanly, nothing stored."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from support.app import build_app

from taskcancel import ApiError, Client, InMemoryTransport, MemoryStore, Task, TaskStatus, wire
from taskcancel.worldfile import DEFAULT_ACCOUNTS

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


def test_tasks_created_through_the_api_are_capped_per_account_and_region() -> None:
    ((key, secret),) = DEFAULT_ACCOUNTS.items()
    with build_app(accounts=DEFAULT_ACCOUNTS, max_tasks_per_account=3) as server:
        with server.client() as http:

            def export(region_id: str) -> tuple[int, str]:
                params = {"RegionId": region_id, "ImageId": "m-1", "OSSBucket": "b"}
                out = wire.v1.build_request(
                    "ExportImage",
                    params,
                    access_key_id=key,
                    secret=secret,
                    nonce=uuid.uuid4().hex,
                    timestamp=datetime.now(UTC),
                )
                reply = http.post(out.target, headers=list(out.headers))
                return reply.status_code, reply.json().get("Code", "OK")

            assert [export("cn-hangzhou") for _ in range(3)] == [(200, "OK")] * 3
            assert export("cn-hangzhou") == (403, "QuotaExceed.Task")
            assert export("cn-shanghai") == (200, "OK")  # another region
        assert len(server.store.list_tasks("cn-hangzhou", account=key)) == 3
