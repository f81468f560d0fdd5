"""The in-memory transport hands the client the Reason it knows, instead of a code and a
message the client must parse back (a MissingParameter names its parameter in text)."""

from __future__ import annotations

import pytest

from taskcancel import ApiRequest, InMemoryTransport, MemoryStore, Reason, Task

HZ = "cn-hangzhou"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"TaskId": "t-1"}, Reason.MISSING_REGION_ID),
        ({"RegionId": HZ}, Reason.MISSING_TASK_ID),
        ({"RegionId": "xx-nowhere-1", "TaskId": "t-1"}, Reason.REGION_NOT_FOUND),
        ({"RegionId": HZ, "TaskId": "t-none"}, Reason.TASK_NOT_FOUND),
        ({"RegionId": HZ, "TaskId": "t-done"}, Reason.INCORRECT_TASK_STATUS),
    ],
)
def test_a_rejection_carries_its_reason(params: dict[str, str], reason: Reason) -> None:
    store = MemoryStore(
        [Task(task_id="t-done", region_id=HZ, action="ImportImage", status="Finished")]
    )
    response = InMemoryTransport(store).handle_request(ApiRequest("CancelTask", params))
    assert response.http_status >= 400 and response.reason is reason


def test_a_success_and_an_unknown_action_carry_none() -> None:
    store = MemoryStore(
        [Task(task_id="t-run", region_id=HZ, action="ImportImage", status="Processing")]
    )
    transport = InMemoryTransport(store)
    done = transport.handle_request(ApiRequest("CancelTask", {"RegionId": HZ, "TaskId": "t-run"}))
    assert done.http_status == 200 and done.reason is None
    unknown = transport.handle_request(ApiRequest("BrewCoffee", {}))
    assert unknown.body["Code"] == "InvalidAction.NotFound" and unknown.reason is None
