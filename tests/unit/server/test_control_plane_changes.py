"""The control plane's changes at runtime, through the app as ``taskcancel serve`` wires it:
``PATCH tasks/{RegionId}/{TaskId}``, ``PUT faults`` and ``POST clock``, each with its errors
(a refused body changes nothing), on both stores.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from support.control import HZ, OTHER, SH, WEIRD, Served, serving


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp(f"changes-{request.param}")
    flags = ["--store", str(directory / "store.db")] if request.param == "sqlite" else []
    with serving(directory, *flags) as served:
        yield served


@pytest.fixture
def emu(server: Served) -> Served:
    server.ok("POST", "reset")
    return server


def task_in(state: dict[str, Any], task_id: str) -> dict[str, Any]:
    [found] = [task for task in state["Tasks"] if task["TaskId"] == task_id]
    return dict(found)


def attribute(emu: Served, task_id: str, field: str) -> Any:
    response = emu.ecs("DescribeTaskAttribute", {"RegionId": HZ, "TaskId": task_id})
    assert response.status_code == 200, response.text
    return response.json().get(field)


# ----------------------------------------------------------------------- PATCH a task


def test_patch_task_status(emu: Served) -> None:
    answer = emu.ok("PATCH", "tasks/cn-hangzhou/t-run", {"TaskStatus": "Finished"})
    assert answer == {
        "TaskId": "t-run",
        "RegionId": HZ,
        "TaskAction": "ImportImage",
        "TaskStatus": "Finished",
        "AccessKeyId": "testid",
        "CreationTime": "2025-12-31T23:00Z",
    }
    assert emu.status(HZ, "t-run") == "Finished"
    assert emu.cancel(HZ, "t-run") == "IncorrectTaskStatus"


def test_patch_cancel_fails(emu: Served) -> None:
    emu.ok("PATCH", "tasks/cn-hangzhou/t-run", {"CancelFails": True})
    assert emu.cancel(HZ, "t-run") == "CancelTaskFailed"
    assert emu.status(HZ, "t-run") == "Processing"  # the task is unchanged
    emu.ok("PATCH", "tasks/cn-hangzhou/t-fails", {"CancelFails": False})
    assert emu.cancel(HZ, "t-fails") == "OK"


def test_patch_task_process(emu: Served) -> None:
    answer = emu.ok("PATCH", "tasks/cn-hangzhou/t-export", {"TaskProcess": "70%"})
    assert answer["TaskProcess"] == "70%"
    assert attribute(emu, "t-export", "TaskProcess") == "70%"


def test_patch_schedule_sets_and_removes_a_lifecycle(emu: Served) -> None:
    # t-run was created an hour before the start: half of two hours' processing is done.
    answer = emu.ok("PATCH", "tasks/cn-hangzhou/t-run", {"Schedule": {"ProcessingSeconds": 7200}})
    assert answer["Schedule"] == {
        "QueuedSeconds": 0,
        "ProcessingSeconds": 7200,
        "Outcome": "Finished",
    }
    assert (answer["TaskStatus"], answer["TaskProcess"]) == ("Processing", "50%")
    emu.ok("POST", "clock", {"AdvanceSeconds": 3600})
    assert emu.status(HZ, "t-run") == "Finished"

    # t-sched waits 60 s; without its schedule it stays Waiting whatever the clock says.
    emu.ok("PATCH", "tasks/cn-hangzhou/t-sched", {"Schedule": None})
    assert "Schedule" not in task_in(emu.state(), "t-sched")
    assert emu.status(HZ, "t-sched") == "Waiting"


def test_patch_several_fields_at_once_and_an_encoded_task_id(emu: Served) -> None:
    route = f"tasks/{HZ}/{quote(WEIRD, safe='')}"
    answer = emu.ok("PATCH", route, {"TaskProcess": "10%", "CancelFails": True})
    assert (answer["TaskId"], answer["TaskProcess"], answer["CancelFails"]) == (WEIRD, "10%", True)
    assert emu.cancel(HZ, WEIRD) == "CancelTaskFailed"


@pytest.mark.parametrize(
    "route",
    ["tasks/cn-hangzhou/t-nope", "tasks/cn-hangzhou/t-theirs", "tasks/xx-nowhere-1/t-run"],
)
def test_patch_of_no_such_task_is_404(emu: Served, route: str) -> None:
    before = emu.state()
    error = emu.refused("PATCH", route, {"CancelFails": True}, status=404)
    _, region, task = route.split("/")
    assert error == {"Code": "NotFound", "Message": f"no task {task!r} in region {region!r}"}
    assert emu.state() == before


BAD_PATCHES: list[tuple[Any, str]] = [
    ({"TaskStatus": "Running"}, "body: TaskStatus: 'Running' is not a valid TaskStatus"),
    ({"TaskStatus": None}, "body: TaskStatus: None is not a valid TaskStatus"),
    ({"CancelFails": "yes"}, "body: CancelFails: must be true or false, got 'yes'"),
    ({"TaskProcess": "140%"}, "body: TaskProcess: progress must look like '0%'..'100%'"),
    ({"TaskProcess": 40}, "body: TaskProcess: must be a string like '40%', got 40"),
    ({"Schedule": {"Outcome": "Deleted"}}, "body: Schedule.Outcome: must be Finished or Failed"),
    ({"Schedule": {"ProcessingSeconds": 0}}, "body: Schedule.ProcessingSeconds: must be a number"),
    ({"Schedule": 5}, "body: Schedule: must be an object, got int"),
    (
        {"TaskId": "t-other"},
        "body: TaskId: unknown field; known: CancelFails, Schedule, TaskProcess",
    ),
    ([], "body: (top level): must be an object, got list"),
    # a valid field with a bad one: neither is applied
    ({"CancelFails": True, "TaskProcess": "x"}, "body: TaskProcess: progress must look like"),
]


@pytest.mark.parametrize(("body", "message"), BAD_PATCHES)
def test_bad_patch_is_400_naming_the_field_and_changes_nothing(
    emu: Served, body: Any, message: str
) -> None:
    before = emu.state()
    error = emu.refused("PATCH", "tasks/cn-hangzhou/t-run", body, status=400)
    assert error["Code"] == "InvalidParameter"
    assert error["Message"].startswith(message), error
    assert emu.state() == before
    assert emu.cancel(HZ, "t-run") == "OK"


def test_a_schedule_needs_a_creation_time(emu: Served) -> None:
    before = emu.state()
    error = emu.refused(
        "PATCH", "tasks/cn-hangzhou/t-export", {"Schedule": {"ProcessingSeconds": 60}}, status=400
    )
    assert error["Message"] == (
        "body: Schedule: task 't-export' has no CreationTime for a Schedule to count from "
        "(give it one when it is seeded)"
    )
    assert emu.state() == before


def test_a_bad_json_body_is_400(emu: Served) -> None:
    error = emu.refused("PATCH", "tasks/cn-hangzhou/t-run", raw=b"{", status=400)
    assert error["Message"].startswith("body: not JSON: ")


# ------------------------------------------------------------------------------- faults


def test_put_faults_throttles_and_unthrottles_the_ecs_path(emu: Served) -> None:
    answer = emu.ok("PUT", "faults", {"ThrottleRate": 1, "RetryAfterMs": 250})
    assert answer == {"ThrottleRate": 1.0, "RetryAfterMs": 250, "LatencyMs": 0.0}
    response = emu.ecs("CancelTask", {"RegionId": HZ, "TaskId": "t-run"})
    assert response.json()["Code"] == "Throttling.User"
    assert response.headers["x-acs-retry-after"] == "250"
    assert emu.status(HZ, "t-run") == "Throttling.User"

    emu.ok("PUT", "faults", {"LatencyMs": 2})  # PUT: absent fields take their defaults
    assert emu.state()["Faults"] == {"ThrottleRate": 0.0, "RetryAfterMs": 1000, "LatencyMs": 2.0}
    assert emu.cancel(HZ, "t-run") == "OK"


BAD_FAULTS: list[tuple[Any, str]] = [
    ({"ThrottleRate": 2}, "body: ThrottleRate: must be a number in [0, 1], got 2"),
    ({"ThrottleRate": "0.5"}, "body: ThrottleRate: must be a number in [0, 1], got '0.5'"),
    ({"RetryAfterMs": -1}, "body: RetryAfterMs: must be a number in [0, 10000000.0], got -1"),
    ({"LatencyMs": True}, "body: LatencyMs: must be a number in [0, 60000.0], got True"),
    (
        {"Latency": 5},
        "body: Latency: unknown field; known: LatencyMs, RetryAfterMs, Rules, ThrottleRate",
    ),
    ([1], "body: (top level): must be an object, got list"),
]


@pytest.mark.parametrize(("body", "message"), BAD_FAULTS)
def test_bad_faults_are_400_naming_the_field_and_change_nothing(
    emu: Served, body: Any, message: str
) -> None:
    emu.ok("PUT", "faults", {"LatencyMs": 1, "RetryAfterMs": 300})
    before = emu.state()
    error = emu.refused("PUT", "faults", body, status=400)
    assert error == {"Code": "InvalidParameter", "Message": message}
    assert emu.state() == before


# -------------------------------------------------------------------------------- clock


def test_clock_advances_and_is_set(emu: Served) -> None:
    assert emu.ok("POST", "clock", {"AdvanceSeconds": 90}) == {"Now": "2026-01-01T00:01:30Z"}
    assert emu.status(HZ, "t-sched") == "Processing"  # queued 60 s
    assert emu.ok("POST", "clock", {"AdvanceSeconds": 0.5}) == {"Now": "2026-01-01T00:01:30Z"}
    assert emu.ok("POST", "clock", {"Now": "2026-01-01T00:11:00Z"}) == {
        "Now": "2026-01-01T00:11:00Z"
    }
    assert emu.state()["Now"] == "2026-01-01T00:11:00Z"
    assert emu.status(HZ, "t-sched") == "Finished"  # 60 s + 600 s after 00:00
    assert emu.ok("POST", "clock", {"Now": "2026-01-01T00:11Z"}) == {"Now": "2026-01-01T00:11:00Z"}


BAD_CLOCKS: list[tuple[Any, str]] = [
    ({"AdvanceSeconds": -1}, "body: AdvanceSeconds: must be in [0, 315360000], got -1"),
    ({"AdvanceSeconds": "90"}, "body: AdvanceSeconds: must be a number of seconds, got '90'"),
    ({"AdvanceSeconds": True}, "body: AdvanceSeconds: must be a number of seconds, got True"),
    ({"Now": "soon"}, "body: Now: not a UTC time like 2026-01-01T00:00:00Z, got 'soon'"),
    (
        {"Now": "2025-01-01T00:00:00Z"},
        "body: Now: the clock cannot go backwards: it is 2026-01-01T00:02:00Z, asked for "
        "2025-01-01T00:00:00Z (POST /_taskcancel/reset goes back to the start)",
    ),
    (
        {"AdvanceSeconds": 1, "Now": "2027-01-01T00:00:00Z"},
        "body: AdvanceSeconds, Now: give exactly one",
    ),
    ({}, "body: AdvanceSeconds, Now: give exactly one"),
    ({"Seconds": 1}, "body: AdvanceSeconds, Now: give exactly one"),
    (None, "body: AdvanceSeconds, Now: give exactly one"),
]


@pytest.mark.parametrize(("body", "message"), BAD_CLOCKS)
def test_bad_clock_moves_are_400_and_leave_the_clock(emu: Served, body: Any, message: str) -> None:
    emu.ok("POST", "clock", {"AdvanceSeconds": 120})
    error = emu.refused("POST", "clock", body, status=400)
    assert error["Code"] == "InvalidParameter"
    assert error["Message"].startswith(message), error
    assert emu.state()["Now"] == "2026-01-01T00:02:00Z"


def test_a_clock_past_the_calendar_is_400(emu: Served) -> None:
    emu.ok("POST", "clock", {"Now": "9999-12-31T23:00:00Z"})
    error = emu.refused("POST", "clock", {"AdvanceSeconds": 7200}, status=400)
    assert error["Message"].startswith("body: AdvanceSeconds: ")
    assert emu.state()["Now"] == "9999-12-31T23:00:00Z"


def test_seeded_and_other_accounts_tasks_follow_the_same_clock(emu: Served) -> None:
    task = {
        "TaskId": "t-c",
        "RegionId": SH,
        "TaskAction": "ImportImage",
        "TaskStatus": "Waiting",
        "AccessKeyId": OTHER[0],
        "Schedule": {"QueuedSeconds": 5, "ProcessingSeconds": 10, "Outcome": "Failed"},
    }
    emu.ok("POST", "tasks", {"Tasks": [task]}, status=201)
    assert emu.status(SH, "t-c", key=OTHER) == "Waiting"
    emu.ok("POST", "clock", {"AdvanceSeconds": 15})
    assert emu.status(SH, "t-c", key=OTHER) == "Failed"
