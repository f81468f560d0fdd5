"""An unknown task status or action, wherever it is given, lists the valid values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskcancel import Client, InMemoryTransport, MemoryStore, TaskAction, TaskStatus
from taskcancel.worldfile import WorldFileError, parse_world


def test_an_unknown_status_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError) as raised:
        TaskStatus("Running")
    assert str(raised.value) == (
        "'Running' is not a valid TaskStatus; "
        "valid values: Waiting, Processing, Finished, Failed, Deleted, Paused"
    )


def test_a_wrong_case_names_the_right_spelling() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'ImportImage'\?"):
        TaskAction("importimage")


def test_a_world_file_with_an_unknown_status_lists_the_valid_ones() -> None:
    world = {"Tasks": [{"TaskId": "t-1", "RegionId": "cn-hangzhou",
                        "TaskAction": "ImportImage", "TaskStatus": "Running"}]}  # fmt: skip
    with pytest.raises(WorldFileError) as raised:
        parse_world(world, source="world.json", now=datetime(2026, 1, 1, tzinfo=UTC))
    assert "Tasks[0].TaskStatus" in str(raised.value)
    assert "valid values: Waiting, Processing, Finished, Failed, Deleted, Paused" in str(
        raised.value
    )


def test_a_client_filter_with_a_wrong_case_names_the_right_spelling() -> None:
    client = Client(InMemoryTransport(MemoryStore()))
    with pytest.raises(ValueError, match=r"did you mean 'Processing'\?"):
        client.describe_tasks("cn-hangzhou", task_status="processing")
