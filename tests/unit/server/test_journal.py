"""The request journal on its own: bounds, Seq, filters and their errors, redaction,
truncation, Ignored, wake callbacks, the JSON-lines file."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest

from taskcancel.api._actions import ignored_parameters
from taskcancel.server._control_body import Refusal
from taskcancel.server._journal import (
    MAX_PARAMS_CHARS,
    MAX_VALUE,
    Entry,
    Filters,
    Journal,
    JournalFile,
    parse_filters,
)

NOW = datetime(2026, 1, 1, 12, 0, 0, 250_000, tzinfo=UTC)


def ecs(
    task_id: str = "t-1",
    *,
    action: str = "CancelTask",
    code: str = "OK",
    params: dict[str, str] | None = None,
    target: bytes | None = None,
    request_id: str = "",
) -> Entry:
    """An entry as the app records it: ``params`` decoded from ``target``'s query."""
    sent = params if params is not None else {"RegionId": "cn-hangzhou", "TaskId": task_id}
    if target is None:
        target = b"/?" + urlencode(sent).encode()
    return Entry.ecs(
        request_id=request_id or f"req-{task_id}",
        method="POST",
        target=target,
        body_size=0,
        status=200,
        code=code,
        latency_ms=1.5,
        action=action,
        signature="V1",
        access_key_id="testid",
        params=sent,
        decision=None,
    )


def journal(size: int = 10) -> Journal:
    return Journal(size, clock=lambda: NOW)


def test_the_journal_keeps_the_newest_entries_and_counts_the_dropped() -> None:
    j = journal(3)
    for n in range(5):
        j.append(ecs(f"t-{n}"))
    assert [e.task_id for e in j.entries()] == ["t-2", "t-3", "t-4"]
    assert [e.seq for e in j.entries()] == [3, 4, 5]
    assert j.dropped == 2
    assert j.answer()["Dropped"] == 2


def test_seq_keeps_counting_after_a_clear() -> None:
    j = journal()
    j.append(ecs("t-1"))
    j.append(ecs("t-2"))
    assert j.clear() == 2
    assert j.entries() == []
    j.append(ecs("t-3"))
    assert [e.seq for e in j.entries()] == [3]


def test_size_zero_records_nothing() -> None:
    j = journal(0)
    j.append(ecs())
    assert (j.enabled, j.entries(), j.seq) == (False, [], 0)


@pytest.mark.parametrize("size", [-1, 1.5, True, "10"])
def test_a_bad_size_is_refused_naming_it(size: object) -> None:
    with pytest.raises(ValueError, match="journal size"):
        Journal(size)  # type: ignore[arg-type]


def test_appends_from_many_threads_get_distinct_seqs() -> None:
    j = journal(10_000)

    def work() -> None:
        for _ in range(500):
            j.append(ecs())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(e.seq for e in j.entries()) == list(range(1, 2001))


def test_an_entry_renders_the_design_fields_with_the_emulator_time() -> None:
    j = journal()
    j.append(ecs())
    data = j.entries()[0].to_json()
    assert data["Seq"] == 1
    assert data["Time"] == "2026-01-01T12:00:00.250Z"
    assert data["Kind"] == "ecs"
    assert (data["Action"], data["Signature"], data["AccessKeyId"]) == (
        "CancelTask",
        "V1",
        "testid",
    )
    assert (data["RegionId"], data["TaskId"], data["Status"], data["Code"]) == (
        "cn-hangzhou",
        "t-1",
        200,
        "OK",
    )
    assert data["Ignored"] == [] and data["Decision"] is None and "Truncated" not in data


def test_signatures_tokens_and_secrets_read_as_stars() -> None:
    params = {
        "Signature": "abc",
        "SecurityToken": "sts",
        "AccessKeySecret": "s3",
        "Password": "pw",
        "SignatureNonce": "n-1",
        "TaskId": "t-1",
    }
    shown = ecs(params=params).to_json()["Params"]
    assert shown == {
        "Signature": "***",
        "SecurityToken": "***",
        "AccessKeySecret": "***",
        "Password": "***",
        "SignatureNonce": "n-1",
        "TaskId": "t-1",
    }


def test_a_large_request_keeps_a_bounded_cut_and_says_so() -> None:
    huge = "x" * 65_536
    params = {"TaskId": huge, **{f"P{n}": "y" * 300 for n in range(100)}}
    entry = ecs(params=params, target=b"/?" + b"x" * 70_000)
    data = entry.to_json()
    assert data["Truncated"] is True
    assert len(data["TaskId"]) == MAX_VALUE
    kept = data["Params"]
    assert all(len(value) <= MAX_VALUE for value in kept.values())
    assert sum(len(k) + len(v) for k, v in kept.items()) <= MAX_PARAMS_CHARS


def test_a_small_request_is_kept_whole_and_decoded_again_when_read() -> None:
    params = {"TaskId": "t" * 1000, "Name": "a b+c%/é"}
    entry = ecs(params=params)
    assert entry.params is None and entry.raw is not None  # kept as the bytes sent
    data = entry.to_json()
    assert "Truncated" not in data and data["Params"] == params


def test_a_long_path_is_cut() -> None:
    data = ecs(target=b"/" + b"p" * 5000, params={}).to_json()
    assert len(data["Path"]) == MAX_VALUE and data["Truncated"] is True


def test_ignored_lists_parameters_no_one_reads_sorted() -> None:
    params = {"RegionId": "r", "TaskID": "t-1", "Action": "CancelTask", "Zeta": "1", "OwnerId": "1"}
    assert ecs(params=params).to_json()["Ignored"] == ["TaskID", "Zeta"]
    assert ignored_parameters("DescribeTasks", ["PageSize", "TaskIds", "Taskids"]) == ["Taskids"]
    assert ignored_parameters("NoSuchAction", ["TaskId"]) == ["TaskId"]


def test_filters_select_by_each_field_and_since_and_limit() -> None:
    j = journal()
    j.append(ecs("t-1"))
    j.append(ecs("t-2", code="InvalidTaskId.NotFound"))
    j.append(ecs("t-1", action="DescribeTaskAttribute"))
    j.append(ecs("t-3"))
    assert [e.seq for e in j.entries(parse_filters("TaskId=t-1"))] == [1, 3]
    assert [e.seq for e in j.entries(parse_filters("Action=CancelTask&Code=OK"))] == [1, 4]
    assert [e.seq for e in j.entries(parse_filters("Since=2"))] == [3, 4]
    assert [e.seq for e in j.entries(parse_filters("Since=0&Limit=2"))] == [1, 2]
    assert [e.seq for e in j.entries(parse_filters("Limit=2"))] == [3, 4]  # the newest
    assert j.entries(parse_filters("Kind=control")) == []
    assert j.find("req-t-2") is not None and j.find("nope") is None


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("Bogus=1", "'Bogus': unknown filter"),
        ("taskid=t-1", "'taskid': unknown filter"),
        ("Since=abc", "Since: must be a whole number"),
        ("Since=-1", "Since: must be a whole number"),
        ("Limit=0", "Limit: must be from 1"),
        ("Limit=1.5", "Limit: must be a whole number"),
        ("WaitSeconds=31", "WaitSeconds: must be from 0 to 30"),
        ("WaitSeconds=-1", "WaitSeconds: must be a whole number"),
        ("Kind=other", "Kind: must be ecs or control"),
        ("Action=A&Action=B", "Action: given more than once"),
    ],
)
def test_bad_filters_are_refused_naming_the_parameter(query: str, named: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_filters(query)
    assert refused.value.status == 400
    assert refused.value.code == "InvalidParameter"
    assert named in refused.value.message


def test_wait_seconds_within_bounds_is_kept() -> None:
    assert parse_filters(b"WaitSeconds=30").wait_seconds == 30
    assert parse_filters(b"").wait_seconds == 0
    assert parse_filters("") == Filters()


def test_subscribers_are_woken_by_each_append_until_they_unsubscribe() -> None:
    j = journal()
    woken: list[int] = []
    unsubscribe = j.subscribe(lambda: woken.append(j.seq))
    j.append(ecs())
    j.append(ecs())
    unsubscribe()
    j.append(ecs())
    assert woken == [1, 2]


def test_the_journal_file_holds_every_entry_after_close(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    sink = JournalFile(str(path))
    j = Journal(5, clock=lambda: NOW, sink=sink)
    for n in range(50):  # more than the ring keeps: the file keeps them all
        j.append(ecs(f"t-{n}"))
    sink.close()
    sink.close()  # idempotent
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["Seq"] for line in lines] == list(range(1, 51))
    assert json.loads(lines[0])["TaskId"] == "t-0"
