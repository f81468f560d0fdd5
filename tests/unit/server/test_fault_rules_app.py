"""Fault rules inside the app (``Emulator.handle``, no sockets): where they apply, what
each outcome answers, and the control plane's ``faults`` routes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from itertools import count
from typing import Any

import pytest

from taskcancel import MemoryStore, wire
from taskcancel._core._model import Task, TaskAction, TaskStatus
from taskcancel.server import Answer, RawRequest, Settings, build
from taskcancel.server._app import Emulator
from taskcancel.server._operations import Operations
from taskcancel.testing import FakeClock, FaultRule
from taskcancel.worldfile import Faults, WorldSpec

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REGION = "cn-hangzhou"
_nonces = count()


def task(task_id: str) -> Task:
    return Task(
        task_id=task_id,
        region_id=REGION,
        action=TaskAction.IMPORT_IMAGE,
        status=TaskStatus.PROCESSING,
        owner="testid",
    )


def app_with(*rules: FaultRule, seed: int | None = 7, **faults: Any) -> Emulator:
    clock = FakeClock(NOW)
    store = MemoryStore([task("t-1"), task("t-2")], regions={REGION}, clock=clock)
    start = WorldSpec(regions=frozenset({REGION}), faults=Faults(rules=rules, **faults))
    built = build(Settings(seed=seed), store, start, fake_clock=clock, gateway_clock=clock)
    return built.app


def store_of(app: Emulator) -> MemoryStore:
    store = app.live.current.store
    assert isinstance(store, MemoryStore)
    return store


def call(
    app: Emulator,
    action: str = "CancelTask",
    task_id: str = "t-1",
    *,
    secret: str = "testsecret",
    fmt: str = "JSON",
) -> Answer:
    out = wire.v1.build_request(
        action,
        {"RegionId": REGION, "TaskId": task_id},
        access_key_id="testid",
        secret=secret,
        nonce=f"n-{next(_nonces)}",
        timestamp=NOW,
        response_format=fmt,
    )
    headers = [(k.encode(), v.encode()) for k, v in out.headers]
    answer = app.handle(RawRequest(out.method, out.target.encode(), headers, out.body))
    assert isinstance(answer, Answer)
    return answer


def control(app: Emulator, method: str, route: str, body: Any = None) -> tuple[int, Any]:
    raw = b"" if body is None else json.dumps(body).encode()
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    answer = app.handle(RawRequest(method, f"/_taskcancel/{route}".encode(), headers, raw))
    assert isinstance(answer, Answer)
    return answer.response.status, json.loads(answer.response.body)


def status_of(app: Emulator, task_id: str = "t-1") -> TaskStatus:
    found = store_of(app).find_task(REGION, task_id)
    assert found is not None
    return found.status


def header(answer: Answer, name: str) -> str | None:
    return dict(answer.response.headers).get(name)


def test_an_error_rule_answers_as_the_gateway_does_and_changes_nothing() -> None:
    app = app_with(
        FaultRule(name="two-throttled", action="CancelTask", first=2, error="Throttling.User"),
        retry_after_ms=1500,
    )
    for _ in range(2):
        answer = call(app)
        assert (answer.response.status, answer.code) == (400, "Throttling.User")
        assert header(answer, "x-acs-retry-after") == "1500"
        assert json.loads(answer.response.body)["Message"] == (
            "Request was denied due to user flow control."
        )
        assert answer.decision is not None
        assert (answer.decision.step, answer.decision.check) == ("fault", "two-throttled")
        assert answer.fault is None
        assert status_of(app) is TaskStatus.PROCESSING
    assert call(app).response.status == 200
    assert status_of(app) is TaskStatus.DELETED


def test_an_error_rule_answers_in_the_requests_format_with_the_profiles_code() -> None:
    app = app_with(FaultRule(name="x", every=1, error="IncorrectTaskStatus"))
    answer = call(app, fmt="XML")
    assert answer.response.status == 403
    assert b"<Code>IncorrectTaskStatus</Code>" in answer.response.body
    assert status_of(app) is TaskStatus.PROCESSING


def test_rules_never_see_unauthenticated_calls() -> None:
    app = app_with(FaultRule(name="all", every=1, error="ServiceUnavailable"))
    assert call(app, secret="wrong").code == "SignatureDoesNotMatch"
    assert app.live.fault_rules.counts() == [(0, 0)]
    assert call(app).code == "ServiceUnavailable"
    assert app.live.fault_rules.counts() == [(1, 1)]


def test_rules_never_apply_to_the_control_plane() -> None:
    app = app_with(FaultRule(name="all", every=1, fault="reset"))
    assert control(app, "GET", "state")[0] == 200
    assert app.live.fault_rules.counts() == [(0, 0)]


@pytest.mark.parametrize(
    ("fault", "done"),
    [("reset", False), ("stall", False), ("reset-after", True), ("truncate", True)],
)
def test_a_wire_fault_is_set_on_the_answer_before_or_after_the_action(
    fault: str, done: bool
) -> None:
    stall = 2.5 if fault == "stall" else None
    app = app_with(FaultRule(name="f", task_id="t-2", every=1, fault=fault, stall_seconds=stall))
    answer = call(app, task_id="t-2")
    assert answer.fault == fault
    assert answer.stall_seconds == (2.5 if fault == "stall" else 0.0)
    assert answer.decision is not None and answer.decision.check == "f"
    assert status_of(app, "t-2") is (TaskStatus.DELETED if done else TaskStatus.PROCESSING)
    if done:  # the action's own answer, which the connection layer cuts or drops
        assert answer.response.status == 200
    assert call(app, task_id="t-1").fault is None  # another task: not matched


def test_reset_after_then_a_retry_gets_incorrect_task_status() -> None:
    app = app_with(FaultRule(name="lost", first=1, fault="reset-after"))
    assert call(app).fault == "reset-after"
    retry = call(app)
    assert (retry.fault, retry.code) == (None, "IncorrectTaskStatus")


def test_latency_alone_delays_the_normal_answer() -> None:
    app = app_with(FaultRule(name="slow", calls=(2,), latency_ms=250), latency_ms=10)
    first, second = call(app, "DescribeTasks"), call(app, "DescribeTasks")
    assert first.delay == pytest.approx(0.010)
    assert second.delay == pytest.approx(0.260)
    assert second.response.status == 200 and second.fault is None


def test_a_seeded_probability_gives_the_same_answers_on_a_new_app() -> None:
    rule = FaultRule(name="p", action="DescribeTasks", probability=0.5, error="InternalError")
    runs = [
        [call(a, "DescribeTasks").code for _ in range(30)] for a in (app_with(rule), app_with(rule))
    ]
    assert runs[0] == runs[1]
    assert {"OK", "InternalError"} == set(runs[0])


def test_throttle_rate_draws_from_the_seeded_generator() -> None:
    a, b = app_with(throttle_rate=0.5, seed=3), app_with(throttle_rate=0.5, seed=3)
    codes = [[call(x, "DescribeTasks").code for _ in range(30)] for x in (a, b)]
    assert codes[0] == codes[1]
    assert {"OK", "Throttling.User"} == set(codes[0])


def test_put_and_get_faults_with_counts_and_reset_restores_start_rules() -> None:
    app = app_with(FaultRule(name="start", first=1, error="InternalError"))
    call(app)
    status, body = control(app, "GET", "faults")
    assert status == 200
    assert [(r["Name"], r["Matched"], r["Fired"]) for r in body["Rules"]] == [("start", 1, 1)]
    rules = [
        {
            "Name": "new",
            "Match": {"Action": "CancelTask"},
            "When": {"Every": 2},
            "Error": "Throttling.Api",
        }
    ]
    status, body = control(app, "PUT", "faults", {"Rules": rules})
    assert status == 200 and body["Rules"][0]["Matched"] == 0
    assert [call(app).code for _ in range(2)] == ["OK", "Throttling.Api"]
    assert control(app, "GET", "state")[1]["Faults"]["Rules"] == rules
    assert control(app, "POST", "reset")[0] == 200
    body = control(app, "GET", "faults")[1]
    assert [(r["Name"], r["Matched"], r["Fired"]) for r in body["Rules"]] == [("start", 0, 0)]


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"Name": "a", "When": {"First": 1}, "Error": "NoSuchCode"}, "Rules[1].Error"),
        ({"Name": "a", "When": {"Every": 0}, "Error": "InternalError"}, "Rules[1].When.Every"),
        (
            {"Name": "a", "When": {"First": 1}, "Fault": "stall", "StallSeconds": 600},
            "Rules[1].StallSeconds",
        ),
    ],
)
def test_a_bad_rule_is_a_400_naming_it_and_nothing_changes(rule: Any, field: str) -> None:
    app = app_with(FaultRule(name="start", first=1, error="InternalError"))
    good = {"Name": "ok", "When": {"First": 1}, "LatencyMs": 1}
    status, body = control(app, "PUT", "faults", {"Rules": [good, rule]})
    assert status == 400
    assert body["Message"].startswith(f"body: {field}: ")
    assert [r.name for r in app.live.current.faults.rules] == ["start"]


def test_an_unknown_error_code_lists_the_valid_ones() -> None:
    app = app_with()
    rule = {"Name": "a", "When": {"First": 1}, "Error": "Nope"}
    message = control(app, "PUT", "faults", {"Rules": [rule]})[1]["Message"]
    assert (
        "valid: " in message and "Throttling.User" in message and "IncorrectTaskStatus" in message
    )


def test_setting_a_rule_with_an_unknown_code_in_python_is_refused() -> None:
    app = app_with()
    ops = Operations(app.live, WorldSpec(), Settings())
    with pytest.raises(ValueError, match=r"Rules\[0\]\.Error: unknown error code 'Nope'"):
        ops.set_faults(Faults(rules=(FaultRule(name="a", first=1, error="Nope"),)))
    assert app.live.current.faults.rules == ()


def test_a_stall_longer_than_this_servers_deadline_is_refused() -> None:
    clock = FakeClock(NOW)
    store = MemoryStore([task("t-1")], regions={REGION}, clock=clock)
    built = build(Settings(request_timeout=5), store, WorldSpec(regions=frozenset({REGION})))
    rule = {"Name": "s", "When": {"First": 1}, "Fault": "stall", "StallSeconds": 6}
    status, body = control(built.app, "PUT", "faults", {"Rules": [rule]})
    assert (status, body["Message"]) == (
        400,
        "body: Rules[0].StallSeconds: must be at most the request deadline, 5 s, got 6",
    )
    status, body = control(built.app, "PUT", "world", {"Faults": {"Rules": [rule]}})
    assert status == 400 and "Faults.Rules[0].StallSeconds" in body["Message"]
    with pytest.raises(ValueError, match=r"Rules\[0\]\.StallSeconds"):
        built.ops.set_faults(
            Faults(rules=(FaultRule(name="s", first=1, fault="stall", stall_seconds=6),))
        )
    assert built.app.live.current.faults.rules == ()


def test_a_world_with_an_unknown_error_code_is_refused_naming_it() -> None:
    app = app_with()
    rule = {"Name": "a", "When": {"First": 1}, "Error": "Nope"}
    status, body = control(app, "PUT", "world", {"Faults": {"Rules": [rule]}})
    assert status == 400
    assert body["Message"].startswith("body: Faults.Rules[0].Error: unknown error code 'Nope'")


@pytest.mark.parametrize(
    ("rule", "action_ran"),
    [
        (FaultRule(name="err", first=1, error="ServiceUnavailable"), False),
        (FaultRule(name="cut", first=1, fault="reset"), False),
        (FaultRule(name="lost", first=1, fault="reset-after"), True),
        (FaultRule(name="half", first=1, fault="truncate"), True),
        (FaultRule(name="slow", first=1, latency_ms=5), True),
    ],
)
def test_the_journal_says_which_rule_decided(rule: FaultRule, action_ran: bool) -> None:
    app = app_with(rule)
    answer = call(app)
    assert answer.decision is not None
    assert (answer.decision.step, answer.decision.check) == ("fault", rule.name)
    (entry,) = app.journal.entries()
    assert entry.decision is not None
    assert (entry.decision.step, entry.decision.check) == ("fault", rule.name)
    assert status_of(app) is (TaskStatus.DELETED if action_ran else TaskStatus.PROCESSING)
    later = call(app, task_id="t-2")  # the rule no longer fires: the action's own decision
    assert later.decision is not None and later.decision.step != "fault"
