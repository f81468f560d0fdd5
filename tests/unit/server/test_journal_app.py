"""The journal inside the app, through ``Emulator.handle`` (no sockets): each answer's
Decision, Ignored, control entries, the routes and their errors, long-polls."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from taskcancel import MemoryStore, Task, TaskAction, TaskStatus, wire
from taskcancel.server import AsgiApp, Deferred, Emulator, RawRequest, Settings, build
from taskcancel.testing._journal import _settle
from taskcancel.worldfile import WorldSpec

HZ = "cn-hangzhou"
HOST = [(b"host", b"127.0.0.1")]


def make_app(size: int = 100) -> Emulator:
    tasks = [
        Task(task_id="t-run", region_id=HZ, action=TaskAction.IMPORT_IMAGE,
             status=TaskStatus.PROCESSING, owner="testid"),
        Task(task_id="t-done", region_id=HZ, action=TaskAction.IMPORT_IMAGE,
             status=TaskStatus.FINISHED, owner="testid"),
        Task(task_id="t-copy", region_id=HZ, action=TaskAction.REDEPLOY_INSTANCE,
             status=TaskStatus.PROCESSING, owner="testid"),
        Task(task_id="t-fail", region_id=HZ, action=TaskAction.EXPORT_IMAGE,
             status=TaskStatus.PROCESSING, owner="testid", cancel_fails=True),
    ]  # fmt: skip
    store = MemoryStore(tasks)
    start = WorldSpec(regions=store.regions(), accounts={"testid": "testsecret"})
    return build(Settings(journal_size=size), store, start).app


def signed(
    action: str, params: Mapping[str, str], *, scheme: str = "v1", secret: str = "testsecret"
) -> RawRequest:
    options: dict[str, Any] = {
        "access_key_id": "testid",
        "secret": secret,
        "nonce": uuid.uuid4().hex,
        "timestamp": datetime.now(UTC),
    }
    if scheme == "v1":
        out = wire.v1.build_request(action, params, **options)
    else:
        out = wire.acs3.build_request(action, params, host="127.0.0.1", **options)
    headers = [(k.encode(), v.encode()) for k, v in out.headers]
    if not any(name.lower() == b"host" for name, _ in headers):
        headers += HOST
    return RawRequest(out.method, out.target.encode(), headers, out.body)


def control(app: Emulator, method: str, target: str, body: Any = None) -> tuple[int, Any]:
    headers = list(HOST)
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers.append((b"content-type", b"application/json"))
    answer = app.handle(RawRequest(method, target.encode(), headers, data))
    if isinstance(answer, Deferred):
        answer = _settle(answer)
    return answer.response.status, json.loads(answer.response.body)


def last(app: Emulator) -> dict[str, Any]:
    entry: dict[str, Any] = app.journal.entries()[-1].to_json()
    return entry


@pytest.mark.parametrize(
    ("params", "step", "check", "rule", "task_status"),
    [
        ({"TaskId": "t-run"}, "rules", "MISSING_REGION_ID", 1, None),
        ({"RegionId": HZ}, "rules", "MISSING_TASK_ID", 2, None),
        ({"RegionId": "xx-nowhere", "TaskId": "t-run"}, "rules", "REGION_NOT_FOUND", 3, None),
        ({"RegionId": HZ, "TaskId": "t-none"}, "rules", "TASK_NOT_FOUND", 4, None),
        ({"RegionId": HZ, "TaskId": "t-copy"}, "rules", "ACTION_NOT_SUPPORTED", 5, "Processing"),
        ({"RegionId": HZ, "TaskId": "t-done"}, "rules", "INCORRECT_TASK_STATUS", 6, "Finished"),
        ({"RegionId": HZ, "TaskId": "t-fail"}, "store", "CANCEL_FAILED", 7,
         "Processing"),
        ({"RegionId": HZ, "TaskId": "t-run"}, "ok", "OK", 7, "Processing"),  # as the rules saw it
    ],
)  # fmt: skip
def test_each_cancel_names_its_contract_row_and_the_task(
    params: dict[str, str],
    step: str,
    check: str,
    rule: int,
    task_status: str | None,
) -> None:
    app = make_app()
    answer = app.handle(signed("CancelTask", params))
    entry = last(app)
    assert not isinstance(answer, Deferred)
    assert entry["Code"] == answer.code
    decision = entry["Decision"]
    assert (decision["Step"], decision["Check"], decision["Rule"]) == (step, check, rule)
    if task_status is None:
        assert decision["Task"] is None
    else:
        assert decision["Task"]["TaskStatus"] == task_status
        assert decision["Task"]["TaskId"] == params["TaskId"]
        assert decision["Task"]["AccessKeyId"] == "testid"


def test_a_misspelt_parameter_is_ignored_and_the_entry_says_so() -> None:
    app = make_app()
    app.handle(signed("CancelTask", {"RegionId": HZ, "TaskID": "t-run"}))
    entry = last(app)
    assert entry["Code"] == "MissingParameter"
    assert entry["Ignored"] == ["TaskID"]
    assert entry["Decision"]["Check"] == "MISSING_TASK_ID"


def test_acs3_calls_are_recorded_without_the_authorization_header() -> None:
    app = make_app()
    request = signed("DescribeTaskAttribute", {"RegionId": HZ, "TaskId": "t-run"}, scheme="acs3")
    app.handle(request)
    entry = last(app)
    assert (entry["Signature"], entry["Action"], entry["Code"]) == (
        "ACS3",
        "DescribeTaskAttribute",
        "OK",
    )
    assert entry["Decision"]["Step"] == "ok"
    text = json.dumps(entry)
    authorization = dict(request.headers)[b"authorization"].decode()
    assert authorization.rsplit("Signature=", 1)[1] not in text


def test_a_bad_signature_is_a_gateway_decision() -> None:
    app = make_app()
    app.handle(signed("CancelTask", {"RegionId": HZ, "TaskId": "t-run"}, secret="wrong"))
    entry = last(app)
    assert entry["Code"] == "SignatureDoesNotMatch"
    assert entry["Decision"] == {
        "Step": "gateway", "Check": "signature", "Rule": None, "Reason": None, "Task": None
    }  # fmt: skip
    assert entry["Params"]["Signature"] == "***"


def test_a_replayed_nonce_is_a_gateway_nonce_decision() -> None:
    app = make_app()
    request = signed("DescribeTasks", {"RegionId": HZ})
    app.handle(request)
    app.handle(request)
    assert last(app)["Decision"]["Check"] == "nonce"


def test_an_unparseable_request_is_recorded_without_a_decision() -> None:
    app = make_app()
    app.handle(RawRequest("GET", b"/?x=1", HOST, b""))
    entry = last(app)
    assert entry["Kind"] == "ecs" and entry["Decision"] is None and entry["Status"] == 400


def test_control_changes_are_entries_and_reads_are_not() -> None:
    app = make_app()
    assert control(app, "GET", "/_taskcancel/state")[0] == 200
    assert control(app, "GET", "/_taskcancel/health")[0] == 200
    assert control(app, "PUT", "/_taskcancel/faults", {"ThrottleRate": 0})[0] == 200
    assert control(app, "GET", "/_taskcancel/requests")[0] == 200
    entries = [e.to_json() for e in app.journal.entries()]
    assert [(e["Kind"], e["Method"], e["Path"]) for e in entries] == [
        ("control", "PUT", "/_taskcancel/faults")
    ]


def test_reset_clears_the_journal_but_not_its_count() -> None:
    app = make_app()
    app.handle(signed("DescribeTasks", {"RegionId": HZ}))
    app.handle(signed("DescribeTasks", {"RegionId": HZ}))
    assert control(app, "POST", "/_taskcancel/reset")[0] == 200
    status, document = control(app, "GET", "/_taskcancel/requests")
    assert status == 200
    assert [(e["Seq"], e["Path"]) for e in document["Requests"]] == [(3, "/_taskcancel/reset")]


def test_the_routes_list_find_and_delete() -> None:
    app = make_app()
    app.handle(signed("CancelTask", {"RegionId": HZ, "TaskId": "t-run"}))
    app.handle(signed("CancelTask", {"RegionId": HZ, "TaskId": "t-none"}))
    status, document = control(app, "GET", "/_taskcancel/requests?Code=OK")
    assert status == 200 and document["Dropped"] == 0
    [ok] = document["Requests"]
    status, found = control(app, "GET", f"/_taskcancel/requests/{ok['RequestId']}")
    assert (status, found) == (200, ok)
    status, missing = control(app, "GET", "/_taskcancel/requests/no-such-id")
    assert status == 404 and missing["Code"] == "NotFound" and "no-such-id" in missing["Message"]
    assert control(app, "DELETE", "/_taskcancel/requests") == (200, {"Cleared": 2})
    assert control(app, "GET", "/_taskcancel/requests")[1]["Requests"] == []


@pytest.mark.parametrize(
    ("query", "named"),
    [("Since=x", "Since"), ("Limit=-2", "Limit"), ("WaitSeconds=31", "WaitSeconds"),
     ("Tasks=1", "Tasks")],
)  # fmt: skip
def test_the_route_refuses_bad_filters_naming_them(query: str, named: str) -> None:
    status, document = control(make_app(), "GET", f"/_taskcancel/requests?{query}")
    assert status == 400
    assert document["Code"] == "InvalidParameter" and named in document["Message"]


def test_the_journal_can_be_off() -> None:
    app = make_app(size=0)
    app.handle(signed("DescribeTasks", {"RegionId": HZ}))
    assert control(app, "GET", "/_taskcancel/requests")[1] == {"Requests": [], "Dropped": 0}


def test_a_long_poll_answers_once_a_matching_call_arrives() -> None:
    app = make_app()
    app.handle(signed("DescribeTasks", {"RegionId": HZ}))  # Seq 1: not what it waits for
    answers: list[Any] = []
    subscribed = threading.Event()
    subscribe = app.journal.subscribe

    def spy(wake: Any) -> Any:
        unsubscribe = subscribe(wake)
        subscribed.set()
        return unsubscribe

    app.journal.subscribe = spy  # type: ignore[method-assign]
    waiter = threading.Thread(
        target=lambda: answers.append(
            control(app, "GET", "/_taskcancel/requests?Since=1&Action=CancelTask&WaitSeconds=30")
        )
    )
    waiter.start()
    assert subscribed.wait(10)
    assert answers == []
    app.handle(signed("CancelTask", {"RegionId": HZ, "TaskId": "t-run"}))
    waiter.join(10)
    [(status, document)] = answers
    assert status == 200
    assert [e["Action"] for e in document["Requests"]] == ["CancelTask"]


def test_a_long_poll_with_nothing_new_answers_empty_when_time_is_up() -> None:
    app = make_app()
    status, document = control(app, "GET", "/_taskcancel/requests?Since=0&WaitSeconds=0")
    assert (status, document["Requests"]) == (200, [])


def test_a_long_poll_over_asgi_holds_no_thread_and_wakes_on_a_call() -> None:
    app = make_app()

    async def scenario() -> httpx.Response:
        transport = httpx.ASGITransport(app=AsgiApp(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            poll = asyncio.ensure_future(
                client.get("/_taskcancel/requests", params={"Since": "0", "WaitSeconds": "30"})
            )
            while not app.journal._wakers:  # subscribed: the poll is waiting
                await asyncio.sleep(0)
            assert not poll.done()
            threading.Thread(
                target=app.handle, args=(signed("DescribeTasks", {"RegionId": HZ}),)
            ).start()
            return await asyncio.wait_for(poll, 10)

    response = asyncio.run(scenario())
    assert response.status_code == 200
    assert [e["Action"] for e in response.json()["Requests"]] == ["DescribeTasks"]
