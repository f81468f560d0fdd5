"""The world file (docs/emulator.md, "The world file"): defaults, pasted DescribeTasks
output, every refusal named by source/field/reason, and ``world_to_json`` as the inverse
of ``parse_world``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel import (
    ECS_REGIONS,
    CancelTaskFailed,
    Client,
    InMemoryTransport,
    MemoryStore,
    Schedule,
    Task,
    TaskAction,
    TaskStatus,
)
from taskcancel.worldfile import (
    Faults,
    WorldFileError,
    WorldSpec,
    demo_world,
    load_world,
    parse_world,
    world_to_json,
)

NOW = datetime(2026, 11, 28, 15, 0, tzinfo=UTC)


def task(**fields: Any) -> dict[str, Any]:
    return {
        "TaskId": "t-1",
        "RegionId": "cn-hangzhou",
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        **fields,
    }


# ----------------------------------------------------------------------------- defaults


def test_an_empty_world_has_the_documented_defaults() -> None:
    spec = parse_world({})
    assert spec.regions == ECS_REGIONS
    assert dict(spec.accounts) == {"testid": "testsecret"}
    assert spec.tasks == ()
    assert spec.faults == Faults(throttle_rate=0.0, retry_after_ms=1000, latency_ms=0.0)


def test_the_design_example_parses() -> None:
    spec = parse_world(
        {
            "Regions": ["cn-hangzhou", "cn-shanghai"],
            "Accounts": [{"AccessKeyId": "testid", "AccessKeySecret": "testsecret"}],
            "Tasks": [
                {
                    "TaskId": "t-23ym6mvro",
                    "RegionId": "cn-hangzhou",
                    "TaskAction": "ImportImage",
                    "TaskStatus": "Processing",
                    "AccessKeyId": "testid",
                    "CreationTime": "2026-11-27T10:00Z",
                    "CancelFails": False,
                }
            ],
        }
    )
    assert spec.regions == frozenset({"cn-hangzhou", "cn-shanghai"})
    assert spec.tasks == (
        Task(
            task_id="t-23ym6mvro",
            region_id="cn-hangzhou",
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner="testid",
            creation_time=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
        ),
    )


def test_a_tasks_account_defaults_to_the_first_account() -> None:
    spec = parse_world(
        {
            "Accounts": [
                {"AccessKeyId": "alice", "AccessKeySecret": "a-secret"},
                {"AccessKeyId": "bob", "AccessKeySecret": "b-secret"},
            ],
            "Tasks": [task(TaskId="t-a"), task(TaskId="t-b", AccessKeyId="bob")],
        }
    )
    assert [(t.task_id, t.owner) for t in spec.tasks] == [("t-a", "alice"), ("t-b", "bob")]
    assert list(spec.accounts) == ["alice", "bob"]


def test_without_accounts_tasks_belong_to_testid() -> None:
    (only,) = parse_world({"Tasks": [task()]}).tasks
    assert only.owner == "testid"


def test_the_same_task_id_may_exist_in_two_regions() -> None:
    spec = parse_world({"Tasks": [task(), task(RegionId="cn-shanghai")]})
    assert {t.key for t in spec.tasks} == {("cn-hangzhou", "t-1"), ("cn-shanghai", "t-1")}


def test_describe_tasks_output_can_be_pasted_in() -> None:
    """A DescribeTasks ``TaskSet.Task`` entry, as the API returns it (SupportCancel,
    empty FinishedTime/ResourceId), plus the RegionId it was listed under."""
    source = MemoryStore(
        [
            Task(
                task_id="t-bp198jigq7l0h5ac0001",
                region_id="cn-hangzhou",
                action="ExportImage",
                status="Finished",
                owner=None,
                creation_time=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
                finished_time=datetime(2026, 11, 27, 10, 30, tzinfo=UTC),
                resource_id="m-bp1abcdef",
            ),
            Task(
                task_id="t-bp198jigq7l0h5ac0002",
                region_id="cn-hangzhou",
                action="ImportImage",
                status="Processing",
                creation_time=datetime(2026, 11, 27, 11, 0, tzinfo=UTC),
            ),
        ],
        regions=frozenset({"cn-hangzhou"}),
    )
    body = Client(InMemoryTransport(source)).call("DescribeTasks", {"RegionId": "cn-hangzhou"})
    entries = body["TaskSet"]["Task"]
    assert {"SupportCancel", "FinishedTime", "ResourceId"} <= entries[0].keys()

    spec = parse_world({"Tasks": [{**entry, "RegionId": body["RegionId"]} for entry in entries]})

    original = source.list_tasks("cn-hangzhou", account=None)
    assert spec.tasks == tuple(attrs.evolve(t, owner="testid") for t in original)


def test_pasted_support_cancel_is_ignored_not_trusted() -> None:
    (pasted,) = parse_world(
        {"Tasks": [task(TaskStatus="Finished", SupportCancel="true", TaskProcess="100%")]}
    ).tasks
    store = MemoryStore([pasted])
    client = Client(InMemoryTransport(store, account="testid"))
    info = client.describe_task_attribute("cn-hangzhou", "t-1")
    assert info.support_cancel is False
    assert info.progress == "100%"


def test_times_with_seconds_are_accepted() -> None:
    (only,) = parse_world({"Tasks": [task(CreationTime="2026-11-27T10:00:30Z")]}).tasks
    assert only.creation_time == datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC)


def test_cancel_fails_makes_cancelling_that_task_fail() -> None:
    spec = parse_world({"Tasks": [task(CancelFails=True), task(TaskId="t-2")]})
    client = Client(
        InMemoryTransport(MemoryStore(spec.tasks, regions=spec.regions), account="testid")
    )
    with pytest.raises(CancelTaskFailed):
        client.cancel_task("cn-hangzhou", "t-1")
    assert client.describe_task_attribute("cn-hangzhou", "t-1").status is TaskStatus.PROCESSING
    client.cancel_task("cn-hangzhou", "t-2")


# ------------------------------------------------------------------------------ schedule


def test_schedule_fields() -> None:
    (only,) = parse_world(
        {
            "Tasks": [
                task(
                    CreationTime="2026-11-27T10:00Z",
                    Schedule={"QueuedSeconds": 30, "ProcessingSeconds": 90.5, "Outcome": "Failed"},
                )
            ]
        }
    ).tasks
    assert only.schedule == Schedule(
        queued_seconds=30.0, processing_seconds=90.5, outcome=TaskStatus.FAILED
    )


def test_schedule_defaults() -> None:
    (only,) = parse_world({"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule={})]}).tasks
    assert only.schedule == Schedule(
        queued_seconds=0.0, processing_seconds=60.0, outcome=TaskStatus.FINISHED
    )


def test_a_schedule_without_creation_time_starts_now() -> None:
    (only,) = parse_world({"Tasks": [task(Schedule={"ProcessingSeconds": 600})]}, now=NOW).tasks
    assert only.creation_time == NOW
    assert only.schedule is not None


# -------------------------------------------------------------------------------- faults


def test_faults_are_read() -> None:
    spec = parse_world({"Faults": {"ThrottleRate": 0.25, "RetryAfterMs": 2500, "LatencyMs": 5}})
    assert spec.faults == Faults(throttle_rate=0.25, retry_after_ms=2500, latency_ms=5.0)


def test_partial_faults_keep_the_other_defaults() -> None:
    assert parse_world({"Faults": {"ThrottleRate": 1}}).faults == Faults(throttle_rate=1.0)


# ------------------------------------------------------------------------------ refusals

BAD: list[tuple[str, Any, str, str]] = [
    # (id, data, field, reason fragment)
    ("top-not-object", [], "(top level)", "must be an object"),
    ("unknown-top-field", {"Task": []}, "(top level).Task", "unknown field"),
    ("regions-not-list", {"Regions": "cn-hangzhou"}, "Regions", "must be a list"),
    ("regions-empty", {"Regions": []}, "Regions", "at least one region"),
    ("region-not-string", {"Regions": ["cn-hangzhou", 7]}, "Regions[1]", "non-empty string"),
    ("accounts-not-list", {"Accounts": {}}, "Accounts", "must be a list"),
    ("accounts-empty", {"Accounts": []}, "Accounts", "at least one account"),
    ("account-not-object", {"Accounts": ["testid"]}, "Accounts[0]", "must be an object"),
    (
        "account-without-id",
        {"Accounts": [{"AccessKeySecret": "s"}]},
        "Accounts[0].AccessKeyId",
        "required",
    ),
    (
        "account-empty-secret",
        {"Accounts": [{"AccessKeyId": "a", "AccessKeySecret": ""}]},
        "Accounts[0].AccessKeySecret",
        "required",
    ),
    (
        "account-duplicate",
        {
            "Accounts": [
                {"AccessKeyId": "a", "AccessKeySecret": "s"},
                {"AccessKeyId": "a", "AccessKeySecret": "t"},
            ]
        },
        "Accounts[1].AccessKeyId",
        "duplicate",
    ),
    (
        "account-unknown-field",
        {"Accounts": [{"AccessKeyId": "a", "AccessKeySecret": "s", "Region": "x"}]},
        "Accounts[0].Region",
        "unknown field",
    ),
    ("tasks-not-list", {"Tasks": {}}, "Tasks", "must be a list"),
    ("task-not-object", {"Tasks": ["t-1"]}, "Tasks[0]", "must be an object"),
    ("task-unknown-field", {"Tasks": [task(Owner="x")]}, "Tasks[0].Owner", "unknown field"),
    ("task-without-region", {"Tasks": [task(RegionId="")]}, "Tasks[0].RegionId", "required"),
    (
        "task-without-id",
        {"Tasks": [{k: v for k, v in task().items() if k != "TaskId"}]},
        "Tasks[0].TaskId",
        "missing",
    ),
    (
        "task-without-status",
        {"Tasks": [{k: v for k, v in task().items() if k != "TaskStatus"}]},
        "Tasks[0].TaskStatus",
        "missing",
    ),
    ("task-empty-id", {"Tasks": [task(TaskId="")]}, "Tasks[0].TaskId", "non-empty string"),
    ("task-bad-action", {"Tasks": [task(TaskAction="Reboot")]}, "Tasks[0].TaskAction", "Reboot"),
    (
        "task-bad-status",
        {"Tasks": [task(TaskStatus="Running")]},
        "Tasks[0].TaskStatus",
        "Running",
    ),
    (
        "task-bad-time",
        {"Tasks": [task(CreationTime="yesterday")]},
        "Tasks[0].CreationTime",
        "yesterday",
    ),
    ("task-time-not-string", {"Tasks": [task(FinishedTime=5)]}, "Tasks[0].FinishedTime", "5"),
    ("task-resource-not-string", {"Tasks": [task(ResourceId=5)]}, "Tasks[0].ResourceId", "5"),
    (
        "task-unknown-account",
        {"Tasks": [task(AccessKeyId="mallory")]},
        "Tasks[0].AccessKeyId",
        "'mallory' is not one of the Accounts",
    ),
    (
        "task-cancel-fails-not-bool",
        {"Tasks": [task(CancelFails="yes")]},
        "Tasks[0].CancelFails",
        "true or false",
    ),
    (
        "task-in-unknown-region",
        {"Regions": ["cn-shanghai"], "Tasks": [task()]},
        "Tasks[0].RegionId",
        "'cn-hangzhou' is not one of the Regions",
    ),
    (
        "task-duplicate",
        {"Tasks": [task(), task(TaskStatus="Finished")]},
        "Tasks[1].TaskId",
        "duplicate 't-1'",
    ),
    (
        "schedule-not-object",
        {"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule=60)]},
        "Tasks[0].Schedule",
        "must be an object",
    ),
    (
        "schedule-unknown-field",
        {"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule={"Seconds": 1})]},
        "Tasks[0].Schedule.Seconds",
        "unknown field",
    ),
    (
        "schedule-bad-outcome",
        {"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule={"Outcome": "Processing"})]},
        "Tasks[0].Schedule.Outcome",
        "Finished or Failed",
    ),
    (
        "schedule-negative-queue",
        {"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule={"QueuedSeconds": -1})]},
        "Tasks[0].Schedule.QueuedSeconds",
        "-1",
    ),
    (
        "schedule-zero-processing",
        {"Tasks": [task(CreationTime="2026-11-27T10:00Z", Schedule={"ProcessingSeconds": 0})]},
        "Tasks[0].Schedule.ProcessingSeconds",
        "got 0",
    ),
    (
        "schedule-without-any-time",
        {"Tasks": [task(Schedule={})]},
        "Tasks[0].CreationTime",
        "Schedule",
    ),
    ("faults-not-object", {"Faults": 1}, "Faults", "must be an object"),
    ("faults-unknown-field", {"Faults": {"DropRate": 1}}, "Faults.DropRate", "unknown field"),
    ("faults-rate-too-big", {"Faults": {"ThrottleRate": 2}}, "Faults.ThrottleRate", "got 2"),
    ("faults-rate-bool", {"Faults": {"ThrottleRate": True}}, "Faults.ThrottleRate", "True"),
    ("faults-retry-negative", {"Faults": {"RetryAfterMs": -1}}, "Faults.RetryAfterMs", "-1"),
    ("faults-latency-text", {"Faults": {"LatencyMs": "5"}}, "Faults.LatencyMs", "'5'"),
]


@pytest.mark.parametrize(
    ("data", "field", "reason"), [case[1:] for case in BAD], ids=[case[0] for case in BAD]
)
def test_every_refusal_names_source_field_and_reason(data: Any, field: str, reason: str) -> None:
    with pytest.raises(WorldFileError) as caught:
        parse_world(data, source="worlds/my.json")
    error = caught.value
    assert error.source == "worlds/my.json"
    assert error.field == field
    assert reason in error.reason
    assert str(error) == f"worlds/my.json: {field}: {error.reason}"
    assert isinstance(error, ValueError)


def test_a_bad_progress_names_the_task_process_field() -> None:
    with pytest.raises(WorldFileError) as caught:
        parse_world({"Tasks": [task(TaskProcess="abc")]}, source="w.json")
    assert caught.value.field == "Tasks[0].TaskProcess"


def test_load_world_names_the_file_for_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text('{"Tasks": [\n  {"TaskId": "t-1",}\n]}')
    with pytest.raises(WorldFileError) as caught:
        load_world(path)
    assert caught.value.source == str(path)
    assert caught.value.field == "(file)"
    assert "not JSON" in caught.value.reason
    assert "line 2" in caught.value.reason


def test_load_world_names_the_file_for_bad_encoding(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_bytes(b'{"Regions": ["\xff"]}')
    with pytest.raises(WorldFileError) as caught:
        load_world(path)
    assert (caught.value.source, caught.value.field) == (str(path), "(file)")
    assert "UTF-8" in caught.value.reason


def test_load_world_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(WorldFileError) as caught:
        load_world(path)
    assert (caught.value.source, caught.value.field) == (str(path), "(file)")


def test_load_world_reports_fields_with_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "world.json"
    path.write_text(json.dumps({"Tasks": [task(TaskStatus="Running")]}))
    with pytest.raises(WorldFileError) as caught:
        load_world(path)
    assert str(caught.value).startswith(f"{path}: Tasks[0].TaskStatus: ")


# ----------------------------------------------------------------------------- round trip

_REGION_POOL = ["cn-hangzhou", "cn-shanghai", "eu-west-1", "xx-private-1"]
_names = st.text(alphabet=st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8)
_minutes = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(second=0, microsecond=0))
_seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def world_specs(draw: st.DrawFn) -> WorldSpec:
    regions = draw(
        st.one_of(st.just(ECS_REGIONS), st.frozensets(st.sampled_from(_REGION_POOL), min_size=1))
    )
    accounts = draw(st.dictionaries(_names, _names, min_size=1, max_size=3))
    tasks: list[Task] = []
    keys: set[tuple[str, str]] = set()
    for _ in range(draw(st.integers(0, 5))):
        region = draw(st.sampled_from(sorted(regions)))
        task_id = draw(_names)
        if (region, task_id) in keys:
            continue
        keys.add((region, task_id))
        created = draw(st.none() | _minutes)
        schedule = None
        if created is not None and draw(st.booleans()):
            schedule = Schedule(
                queued_seconds=draw(_seconds),
                processing_seconds=draw(_seconds.filter(lambda s: s >= 1e-3)),
                outcome=draw(st.sampled_from([TaskStatus.FINISHED, TaskStatus.FAILED])),
            )
        tasks.append(
            Task(
                task_id=task_id,
                region_id=region,
                action=draw(st.sampled_from(TaskAction)),
                status=draw(st.sampled_from(TaskStatus)),
                owner=draw(st.sampled_from(sorted(accounts))),
                creation_time=created,
                finished_time=draw(st.none() | _minutes),
                resource_id=draw(st.none() | _names),
                progress=draw(st.none() | st.integers(0, 100).map(lambda n: f"{n}%")),
                cancel_fails=draw(st.booleans()),
                schedule=schedule,
            )
        )
    faults = draw(
        st.just(Faults())
        | st.builds(
            Faults,
            throttle_rate=st.floats(0, 1),
            retry_after_ms=st.integers(0, 10_000_000),
            latency_ms=st.floats(0, 60_000),
        )
    )
    return WorldSpec(regions=regions, accounts=accounts, tasks=tuple(tasks), faults=faults)


@settings(max_examples=100, deadline=None)
@given(spec=world_specs())
def test_world_to_json_round_trips(spec: WorldSpec) -> None:
    text = json.dumps(world_to_json(spec))  # plain JSON, nothing exotic
    assert parse_world(json.loads(text)) == spec


def test_world_to_json_leaves_out_default_faults() -> None:
    assert "Faults" not in world_to_json(WorldSpec())
    assert world_to_json(WorldSpec(faults=Faults(latency_ms=3)))["Faults"] == {
        "ThrottleRate": 0.0,
        "RetryAfterMs": 1000,
        "LatencyMs": 3,
    }


def test_schedule_round_trips_through_a_file(tmp_path: Path) -> None:
    spec = parse_world(
        {
            "Tasks": [
                task(
                    CreationTime="2026-11-27T10:00Z",
                    Schedule={"QueuedSeconds": 5, "ProcessingSeconds": 0.5, "Outcome": "Failed"},
                    CancelFails=True,
                )
            ]
        }
    )
    path = tmp_path / "w.json"
    path.write_text(json.dumps(world_to_json(spec)))
    assert load_world(path) == spec
    assert world_to_json(spec)["Tasks"][0]["Schedule"] == {
        "QueuedSeconds": 5.0,
        "ProcessingSeconds": 0.5,
        "Outcome": "Failed",
    }


def test_the_demo_world_round_trips() -> None:
    spec = demo_world(NOW)
    assert parse_world(world_to_json(spec)) == spec


@pytest.mark.parametrize(
    "world",
    [
        {"Tasks": [task(CreationTime="2026-11-27T10:00:30Z")]},
        {"Tasks": [task(Schedule={})]},  # anchored at `now`, which has seconds
    ],
    ids=["seconds-in-file", "schedule-anchored-now"],
)
def test_times_with_seconds_round_trip(world: dict[str, Any]) -> None:
    spec = parse_world(world, now=NOW + timedelta(seconds=42))
    assert parse_world(world_to_json(spec)) == spec


def test_a_saved_state_with_now_loads_as_a_world_file(tmp_path: Path) -> None:
    """``taskcancel state --json > saved.json`` then ``serve --world saved.json``."""
    path = tmp_path / "saved.json"
    path.write_text(
        json.dumps({"Regions": ["cn-hangzhou"], "Tasks": [], "Now": "2026-01-01T00:00:00Z"})
    )
    assert load_world(path).regions == frozenset({"cn-hangzhou"})
