"""The ``ecs_journal`` fixture over the session's emulator, and ``EmulatorServer.requests``."""

from __future__ import annotations

import pytest

from taskcancel import Client, IncorrectTaskStatus, Task, TaskAction, TaskStatus
from taskcancel.testing import EmulatorServer, RequestJournal

HZ = "cn-hangzhou"


def test_the_fixture_starts_empty_and_sees_this_tests_calls(
    ecs_emulator: EmulatorServer, ecs_journal: RequestJournal, ecs_client: Client
) -> None:
    assert ecs_journal.entries() == []
    ecs_emulator.add_task(
        Task(task_id="t-1", region_id=HZ, action=TaskAction.IMPORT_IMAGE,
             status=TaskStatus.FINISHED)
    )  # fmt: skip
    with pytest.raises(IncorrectTaskStatus):
        ecs_client.cancel_task(HZ, "t-1")
    ecs_journal.assert_called("CancelTask", times=1, TaskId="t-1")
    [entry] = ecs_journal.entries(action="CancelTask")
    assert entry["Decision"]["Check"] == "INCORRECT_TASK_STATUS"
    with pytest.raises(AssertionError, match="expected 't-2', sent 't-1'"):
        ecs_journal.assert_called("CancelTask", TaskId="t-2")
    # add_task is a direct call, not the control plane's route: not an entry
    assert ecs_emulator.requests(kind="control") == []
    assert ecs_journal.clear() == 1
    assert ecs_emulator.requests() == []


def test_requests_refuses_a_bad_filter_with_the_routes_message(
    ecs_emulator: EmulatorServer,
) -> None:
    with pytest.raises(ValueError, match="Limit: must be from 1"):
        ecs_emulator.requests(limit=0)
