"""The control plane through the app as ``taskcancel serve`` wires it: health, state, world,
reset and seeding, each with its errors, on both stores (in memory and ``--store`` SQLite).

Every test starts with ``POST /_taskcancel/reset`` on a server shared by the module, so the
tests also prove that a reset gives each test the start world whatever ran before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from support.control import (
    BURST,
    BURST_SCHEDULED,
    HZ,
    KEY,
    OTHER,
    SH,
    START,
    WEIRD,
    Served,
    serving,
)

import taskcancel


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp(f"control-{request.param}")
    flags = ["--store", str(directory / "store.db")] if request.param == "sqlite" else []
    with serving(directory, *flags) as served:
        yield served


@pytest.fixture
def emu(server: Served) -> Served:
    """The module's server, back at its start world."""
    assert server.ok("POST", "reset") == {"Status": "reset"}
    return server


def entry(task_id: str, action: str, status: str, **extra: Any) -> dict[str, Any]:
    """A task as ``GET state`` shows it: cn-hangzhou and testid unless told."""
    return {
        "TaskId": task_id,
        "RegionId": extra.pop("RegionId", HZ),
        "TaskAction": action,
        "TaskStatus": status,
        "AccessKeyId": extra.pop("AccessKeyId", KEY[0]),
        **extra,
    }


def start_state() -> dict[str, Any]:
    """The world file of ``support.control.world_file()`` as of START, written out by hand."""
    scheduled = {"QueuedSeconds": 60, "ProcessingSeconds": 600, "Outcome": "Finished"}
    tasks = [
        entry(WEIRD, "ImportImage", "Processing"),
        *(entry(task_id, "ImportImage", "Processing") for task_id in BURST),
        entry(
            BURST_SCHEDULED,
            "ImportImage",
            "Processing",
            CreationTime="2026-01-01T00:00Z",
            TaskProcess="0%",
            Schedule={"QueuedSeconds": 0, "ProcessingSeconds": 600, "Outcome": "Finished"},
        ),
        entry(
            "t-done",
            "ImportImage",
            "Finished",
            CreationTime="2025-12-31T22:00Z",
            FinishedTime="2025-12-31T22:30:15Z",
        ),
        entry("t-export", "ExportImage", "Processing", TaskProcess="40%"),
        entry("t-fails", "ImportImage", "Processing", CancelFails=True),
        entry("t-run", "ImportImage", "Processing", CreationTime="2025-12-31T23:00Z"),
        entry(
            "t-sched",
            "ExportImage",
            "Waiting",
            CreationTime="2026-01-01T00:00Z",
            TaskProcess="0%",
            Schedule=scheduled,
        ),
        entry("t-theirs", "ImportImage", "Processing", RegionId=SH, AccessKeyId=OTHER[0]),
    ]
    return {
        "Regions": [HZ, SH],
        "Accounts": [
            {"AccessKeyId": KEY[0], "AccessKeySecret": KEY[1]},
            {"AccessKeyId": OTHER[0], "AccessKeySecret": OTHER[1]},
        ],
        "Tasks": tasks,
        "Faults": {"ThrottleRate": 0.0, "RetryAfterMs": 1000, "LatencyMs": 0.0},
        "Now": START,
    }


def task_in(state: dict[str, Any], task_id: str) -> dict[str, Any]:
    [found] = [task for task in state["Tasks"] if task["TaskId"] == task_id]
    return dict(found)


def stir(emu: Served) -> None:
    """Change the world in every way, so "unchanged" and "reset" mean something."""
    assert emu.cancel(HZ, "t-run") == "OK"
    emu.ok("PATCH", "tasks/cn-hangzhou/t-export", {"TaskProcess": "70%", "CancelFails": True})
    emu.ok("PUT", "faults", {"LatencyMs": 1, "RetryAfterMs": 300})
    emu.ok("POST", "clock", {"AdvanceSeconds": 120})
    new = {"TaskId": "t-new", "RegionId": SH, "TaskAction": "ExportImage", "TaskStatus": "Waiting"}
    emu.ok("POST", "tasks", {"Tasks": [new]}, status=201)


# ------------------------------------------------------------------------------ health


def test_health_answers_get_and_head(emu: Served) -> None:
    health = emu.ok("GET", "health")
    assert health == {
        "Status": "ready",
        "Version": taskcancel.__version__,
        "Profile": "2017",
        "Store": emu.store,
        "Clock": "fake",
    }

    head = emu.control("HEAD", "health")
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(json.dumps(health).encode())


def test_unknown_routes_and_methods_are_json_errors(emu: Served) -> None:
    error = emu.refused("GET", "nothing", status=404)
    assert error["Code"] == "NotFound" and "/_taskcancel/nothing" in error["Message"]
    error = emu.refused("GET", "reset", status=405)
    assert error == {"Code": "MethodNotAllowed", "Message": "GET is not allowed on reset"}
    emu.refused("DELETE", "tasks/cn-hangzhou/t-run", status=405)
    emu.refused("PATCH", "tasks/cn-hangzhou", {"CancelFails": True}, status=404)


# ------------------------------------------------------------------------------- state


def test_state_is_the_whole_start_world(emu: Served) -> None:
    assert emu.state() == start_state()


def test_state_shows_each_task_as_of_now(emu: Served) -> None:
    assert emu.ok("POST", "clock", {"AdvanceSeconds": 90}) == {"Now": "2026-01-01T00:01:30Z"}
    sched = task_in(emu.state(), "t-sched")
    assert (sched["TaskStatus"], sched["TaskProcess"]) == ("Processing", "5%")  # 30 s of 600
    assert emu.status(HZ, "t-sched") == "Processing"

    emu.ok("POST", "clock", {"AdvanceSeconds": 600})
    state = emu.state()
    assert state["Now"] == "2026-01-01T00:11:30Z"
    assert task_in(state, "t-sched") == entry(
        "t-sched",
        "ExportImage",
        "Finished",
        CreationTime="2026-01-01T00:00Z",
        FinishedTime="2026-01-01T00:11Z",
        TaskProcess="100%",
    )
    assert emu.status(HZ, "t-sched") == "Finished"
    # every account's tasks: another account's task is in the state, as it is
    assert task_in(state, "t-theirs")["AccessKeyId"] == OTHER[0]


# ------------------------------------------------------------------------------- world


def test_state_round_trips_through_put_world(emu: Served) -> None:
    stir(emu)
    before = emu.control("GET", "state")

    assert emu.ok("PUT", "world", before.json()) == {"Tasks": len(before.json()["Tasks"])}

    after = emu.control("GET", "state")
    assert after.json() == before.json()
    assert after.content == before.content  # byte for byte
    assert emu.cancel(HZ, "t-run") == "IncorrectTaskStatus"  # still cancelled
    assert emu.cancel(HZ, "t-export") == "CancelTaskFailed"


def test_a_world_larger_than_an_ecs_body_round_trips(emu: Served) -> None:
    tasks = [
        {
            "TaskId": f"t-large-{n:05d}",
            "RegionId": HZ,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
            "CreationTime": "2025-12-31T12:00Z",
            "ResourceId": f"m-large{n:015d}",
            "Schedule": {"QueuedSeconds": 0, "ProcessingSeconds": 86400 + n, "Outcome": "Failed"},
        }
        for n in range(1500)
    ]
    world = {"Regions": [HZ], "Tasks": tasks}
    assert len(json.dumps(world)) > 256 * 1024  # far past the ECS path's 64 KiB

    assert emu.ok("PUT", "world", world) == {"Tasks": 1500}
    state = emu.control("GET", "state")
    emu.ok("PUT", "world", state.json())
    assert emu.control("GET", "state").content == state.content


def test_put_world_replaces_regions_accounts_tasks_and_faults(emu: Served) -> None:
    new_key = ("newkey", "newsecret")
    world = {
        "Regions": [SH],
        "Accounts": [{"AccessKeyId": new_key[0], "AccessKeySecret": new_key[1]}],
        "Tasks": [{"TaskId": "t-w", "TaskAction": "ImportImage", "TaskStatus": "Processing"}],
        "Faults": {"ThrottleRate": 1.0, "RetryAfterMs": 250},
    }
    emu.ok("PUT", "world", world)

    state = emu.state()
    assert state["Regions"] == [SH]
    assert state["Accounts"] == [{"AccessKeyId": "newkey", "AccessKeySecret": "newsecret"}]
    assert state["Tasks"] == [
        entry("t-w", "ImportImage", "Processing", RegionId=SH, AccessKeyId="newkey")
    ]
    assert state["Faults"] == {"ThrottleRate": 1.0, "RetryAfterMs": 250, "LatencyMs": 0.0}
    assert emu.cancel(HZ, "t-run") == "InvalidAccessKeyId.NotFound"  # the old key is gone
    throttled = emu.ecs("CancelTask", {"RegionId": SH, "TaskId": "t-w"}, key=new_key)
    assert (throttled.json()["Code"], throttled.headers["x-acs-retry-after"]) == (
        "Throttling.User",
        "250",
    )

    emu.ok("PUT", "faults", {})
    assert emu.cancel(HZ, "t-w", key=new_key) == "RegionId.NotFound"
    assert emu.cancel(SH, "t-w", key=new_key) == "OK"


def test_put_world_now_moves_the_clock_either_way(emu: Served) -> None:
    state = emu.state()
    later = {**state, "Now": "2026-01-02T00:00:00Z"}
    emu.ok("PUT", "world", later)
    assert emu.state()["Now"] == "2026-01-02T00:00:00Z"
    assert task_in(emu.state(), "t-sched")["TaskStatus"] == "Finished"

    scheduled = {
        "TaskId": "t-late",
        "RegionId": HZ,
        "TaskAction": "ImportImage",
        "TaskStatus": "Waiting",
        "Schedule": {"ProcessingSeconds": 60},
    }
    emu.ok("PUT", "world", {"Now": "2025-06-01T12:00:00Z", "Regions": [HZ], "Tasks": [scheduled]})
    state = emu.state()
    assert state["Now"] == "2025-06-01T12:00:00Z"  # backwards: the whole world is replaced
    # A Schedule without a CreationTime starts at the body's Now.
    assert task_in(state, "t-late")["CreationTime"] == "2025-06-01T12:00Z"


BAD_WORLDS: list[tuple[Any, int, str]] = [
    (b"{not json", 400, "body: not JSON: "),
    ([], 400, "body: (top level): must be an object, got list"),
    ({"Bogus": 1}, 400, "body: (top level).Bogus: unknown field"),
    ({"Regions": []}, 400, "body: Regions: must list at least one region"),
    ({"Accounts": []}, 400, "body: Accounts: must list at least one account"),
    (
        {
            "Tasks": [
                {
                    "TaskId": "t-x",
                    "RegionId": HZ,
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Running",
                }
            ]
        },
        400,
        "body: Tasks[0].TaskStatus: 'Running' is not a valid TaskStatus",
    ),
    (
        {
            "Regions": [HZ],
            "Tasks": [
                {
                    "TaskId": "t-x",
                    "RegionId": SH,
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Processing",
                }
            ],
        },
        400,
        "body: Tasks[0].RegionId: 'cn-shanghai' is not one of the Regions",
    ),
    (
        {
            "Tasks": [
                {
                    "TaskId": "t-x",
                    "RegionId": HZ,
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Processing",
                    "AccessKeyId": "nobody",
                }
            ]
        },
        400,
        "body: Tasks[0].AccessKeyId: 'nobody' is not one of the Accounts",
    ),
    (
        {
            "Tasks": [
                {
                    "TaskId": "t-x",
                    "RegionId": HZ,
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Processing",
                }
            ]
            * 2
        },
        409,
        "body: Tasks[1].TaskId: duplicate 't-x' in 'cn-hangzhou'",
    ),
    (
        {"Faults": {"ThrottleRate": 2}},
        400,
        "body: Faults.ThrottleRate: must be a number in [0, 1], got 2",
    ),
    ({"Now": "tomorrow", "Tasks": []}, 400, "body: Now: not a UTC time like 2026-01-01T00:00:00Z"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_WORLDS)
def test_a_bad_world_changes_nothing(emu: Served, body: Any, status: int, message: str) -> None:
    stir(emu)
    before = emu.state()
    raw = body if isinstance(body, bytes) else None
    error = emu.refused("PUT", "world", None if raw else body, raw=raw, status=status)
    assert error["Message"].startswith(message), error
    assert error["Code"] == ("Conflict" if status == 409 else "InvalidParameter")
    assert emu.state() == before


# ------------------------------------------------------------------------------- reset


def test_reset_puts_back_the_start_world_and_clock(emu: Served) -> None:
    stir(emu)
    emu.ok(
        "PUT",
        "world",
        {**emu.state(), "Accounts": [{"AccessKeyId": "k2", "AccessKeySecret": "s2"}], "Tasks": []},
    )
    assert emu.cancel(HZ, "t-export") == "InvalidAccessKeyId.NotFound"

    assert emu.ok("POST", "reset") == {"Status": "reset"}

    assert emu.state() == start_state()
    assert emu.cancel(HZ, "t-run") == "OK"  # it was cancelled before the reset
    assert emu.cancel(SH, "t-theirs", key=OTHER) == "OK"


# ------------------------------------------------------------------------------- tasks


def test_post_tasks_adds_them_in_world_file_shape(emu: Served) -> None:
    emu.ok("POST", "clock", {"AdvanceSeconds": 30})
    tasks = [
        {
            "TaskId": "t-add-1",
            "RegionId": HZ,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
        },
        {
            "TaskId": "t-add-2",
            "RegionId": SH,
            "TaskAction": "ExportImage",
            "TaskStatus": "Waiting",
            "AccessKeyId": OTHER[0],
            "Schedule": {"QueuedSeconds": 10, "ProcessingSeconds": 100},
        },
    ]
    assert emu.ok("POST", "tasks", {"Tasks": tasks}, status=201) == {
        "Tasks": ["t-add-1", "t-add-2"]
    }

    state = emu.state()
    assert task_in(state, "t-add-1") == entry("t-add-1", "ImportImage", "Processing")
    assert task_in(state, "t-add-2") == entry(
        "t-add-2",
        "ExportImage",
        "Waiting",
        RegionId=SH,
        AccessKeyId=OTHER[0],
        CreationTime="2026-01-01T00:00:30Z",  # a Schedule without CreationTime starts now
        TaskProcess="0%",
        Schedule={"QueuedSeconds": 10, "ProcessingSeconds": 100, "Outcome": "Finished"},
    )
    assert emu.cancel(HZ, "t-add-1") == "OK"
    assert emu.cancel(SH, "t-add-2") == "InvalidTaskId.NotFound"  # not testid's
    emu.ok("POST", "clock", {"AdvanceSeconds": 20})
    assert emu.status(SH, "t-add-2", key=OTHER) == "Processing"


def _new(task_id: str, region: str = HZ) -> dict[str, Any]:
    return {
        "TaskId": task_id,
        "RegionId": region,
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
    }


BAD_TASKS: list[tuple[Any, int, str, str]] = [
    (
        {"Tasks": [_new("t-ok"), _new("t-run")]},
        409,
        "Conflict",
        "body: duplicate task 't-run' in region 'cn-hangzhou'",
    ),
    (
        {"Tasks": [_new("t-ok"), _new("t-ok")]},
        409,
        "Conflict",
        "body: Tasks[1].TaskId: duplicate 't-ok' in 'cn-hangzhou'",
    ),
    (
        {"Tasks": [_new("t-ok"), _new("t-nowhere", "xx-nowhere-1")]},
        400,
        "InvalidParameter",
        "body: Tasks[1].RegionId: 'xx-nowhere-1' is not one of the Regions",
    ),
    (
        {"Tasks": [_new("t-ok"), {**_new("t-bad"), "TaskStatus": "Running"}]},
        400,
        "InvalidParameter",
        "body: Tasks[1].TaskStatus: 'Running' is not a valid TaskStatus",
    ),
    (
        {"Tasks": [{**_new("t-bad"), "CancelFails": "yes"}]},
        400,
        "InvalidParameter",
        "body: Tasks[0].CancelFails: must be true or false, got 'yes'",
    ),
    ({"Tasks": {}}, 400, "InvalidParameter", "body: Tasks: must be a list, got dict"),
    ({}, 400, "InvalidParameter", "body: Tasks: required"),
    (
        {"Tasks": [], "Extra": 1},
        400,
        "InvalidParameter",
        "body: Extra: unknown field; known: Tasks",
    ),
    (b"[", 400, "InvalidParameter", "body: not JSON: "),
]


@pytest.mark.parametrize(("body", "status", "code", "message"), BAD_TASKS)
def test_bad_tasks_add_nothing(
    emu: Served, body: Any, status: int, code: str, message: str
) -> None:
    before = emu.state()
    raw = body if isinstance(body, bytes) else None
    error = emu.refused("POST", "tasks", None if raw else body, raw=raw, status=status)
    assert error["Code"] == code and error["Message"].startswith(message), error
    assert emu.state() == before
    assert emu.status(HZ, "t-ok") == "InvalidTaskId.NotFound"
