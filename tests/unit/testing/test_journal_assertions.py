"""``RequestJournal`` (the ``ecs_journal`` fixture's object) over a fake fetch function:
assert_called / assert_not_called and the near misses a failure lists."""

from __future__ import annotations

from typing import Any

import pytest

from taskcancel.testing import RequestJournal
from taskcancel.testing._journal import filters_query


def entry(seq: int, action: str, ignored: tuple[str, ...] = (), **params: str) -> dict[str, Any]:
    return {
        "Seq": seq,
        "Kind": "ecs",
        "Action": action,
        "RegionId": params.get("RegionId"),
        "TaskId": params.get("TaskId"),
        "Params": {"Action": action, **params},
        "Ignored": list(ignored),
        "Status": 200,
        "Code": "OK",
        "Decision": {"Step": "ok", "Check": "OK"},
    }


ENTRIES = [
    entry(1, "CancelTask", RegionId="cn-hangzhou", TaskId="t-1"),
    entry(2, "CancelTask", RegionId="cn-beijing", TaskId="t-1"),
    entry(3, "DescribeTaskAttribute", RegionId="cn-hangzhou", TaskId="t-2"),
    entry(4, "CancelTask", ("TaskID",), RegionId="cn-hangzhou", TaskID="t-3"),
]


def journal(entries: list[dict[str, Any]] = ENTRIES) -> tuple[RequestJournal, list[dict[str, Any]]]:
    asked: list[dict[str, Any]] = []

    def fetch(**filters: object) -> list[dict[str, Any]]:
        asked.append(filters)
        action = filters.get("action")
        return [e for e in entries if action is None or e["Action"] == action]

    return RequestJournal(fetch, lambda: len(entries)), asked


def test_assert_called_passes_on_a_match_and_counts_times() -> None:
    j, _ = journal()
    j.assert_called("CancelTask", TaskId="t-1")
    j.assert_called("CancelTask", times=2, TaskId="t-1")
    j.assert_called("CancelTask", RegionId="cn-beijing", TaskId="t-1")


def test_a_wrong_count_fails_listing_the_matching_calls() -> None:
    j, _ = journal()
    with pytest.raises(AssertionError) as failed:
        j.assert_called("CancelTask", times=1, TaskId="t-1")
    text = str(failed.value)
    assert "1 time(s), it was called 2 time(s)" in text
    assert "#1 CancelTask" in text and "#2 CancelTask" in text


def test_a_miss_marks_the_differing_parameters_of_the_closest_calls() -> None:
    j, _ = journal()
    with pytest.raises(AssertionError) as failed:
        j.assert_called("CancelTask", RegionId="cn-shanghai", TaskId="t-1")
    text = str(failed.value)
    assert "closest CancelTask calls" in text
    assert "- RegionId: expected 'cn-shanghai', sent 'cn-hangzhou'" in text
    assert "- RegionId: expected 'cn-shanghai', sent 'cn-beijing'" in text
    # the closest first: the calls with one difference come before the one with two
    assert text.index("#1 CancelTask") < text.index("#4 CancelTask")


def test_a_misspelt_parameter_is_pointed_out() -> None:
    j, _ = journal()
    with pytest.raises(AssertionError) as failed:
        j.assert_called("CancelTask", TaskId="t-3")
    assert "- TaskId: expected 't-3', not sent (sent 'TaskID' instead" in str(failed.value)


def test_the_same_task_under_another_action_is_listed() -> None:
    j, _ = journal()
    with pytest.raises(AssertionError) as failed:
        j.assert_called("CancelTask", TaskId="t-2")
    text = str(failed.value)
    assert "the same task under another action" in text
    assert "#3 DescribeTaskAttribute" in text


def test_no_calls_at_all_says_so() -> None:
    j, _ = journal([])
    with pytest.raises(AssertionError, match="no ExportImage calls were recorded"):
        j.assert_called("ExportImage")


def test_assert_not_called_lists_the_offending_calls() -> None:
    j, _ = journal()
    j.assert_not_called("CancelTask", TaskId="t-9")
    j.assert_not_called("ImportImage")
    with pytest.raises(AssertionError) as failed:
        j.assert_not_called("CancelTask", RegionId="cn-beijing")
    assert "#2 CancelTask" in str(failed.value) and "#1" not in str(failed.value)


def test_entries_pass_filters_and_clear_returns_the_count() -> None:
    j, asked = journal()
    assert len(j.entries(action="CancelTask")) == 3
    assert asked[-1] == {"action": "CancelTask"}
    assert j.clear() == 4


def test_a_journal_without_a_clear_refuses_to_clear() -> None:
    with pytest.raises(TypeError, match="no way to clear"):
        RequestJournal(lambda **_: []).clear()


def test_filter_names_become_the_route_query() -> None:
    query = filters_query({"action": "CancelTask", "task_id": "t 1", "Since": 3, "code": None})
    assert query == "Action=CancelTask&TaskId=t+1&Since=3"
