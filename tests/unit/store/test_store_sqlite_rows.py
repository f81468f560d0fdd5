"""A store file holding a row taskcancel cannot read is refused at open.

The message is ``FILE: table row N: field: reason`` (rows numbered from 1 by region,
then task id), and the file is left byte for byte as it was (``serve --store FILE``
exiting 2 with that message: tests/e2e/test_serve_refuses_an_unreadable_store.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.stores import HANGZHOU, store_file, tamper

from taskcancel import SqliteStore, StoreFileError

#: name -> (statement, arguments, expected "table row N: field: reason" start)
BAD_ROWS: dict[str, tuple[str, tuple[object, ...], str]] = {
    "unknown status": (
        "UPDATE tasks SET status = ? WHERE task_id = 't-2'",
        ("Running",),
        "tasks row 2: status: 'Running' is not one of Waiting, Processing,",
    ),
    "unknown action": (
        "UPDATE tasks SET action = ? WHERE task_id = 't-3'",
        ("CopyImage",),
        "tasks row 3: action: 'CopyImage' is not one of ImportImage,",
    ),
    "garbage time": (
        "UPDATE tasks SET creation_time = ? WHERE task_id = 't-2'",
        ("yesterday-ish",),
        "tasks row 2: creation_time: 'yesterday-ish' is not a UTC time",
    ),
    "impossible date": (
        "UPDATE tasks SET finished_time = ? WHERE task_id = 't-3'",
        ("2026-02-30T00:00:00.000000Z",),
        "tasks row 3: finished_time: '2026-02-30T00:00:00.000000Z' is not a UTC time",
    ),
    "time with an offset": (
        "UPDATE tasks SET creation_time = ? WHERE task_id = 't-2'",
        ("2026-11-27T10:00:00+05:00Z",),
        "tasks row 2: creation_time:",
    ),
    "bad progress": (
        "UPDATE tasks SET progress = ? WHERE task_id = 't-2'",
        ("150%",),
        "tasks row 2: progress: progress must look like",
    ),
    "cancel_fails not 0 or 1": (
        "UPDATE tasks SET cancel_fails = ? WHERE task_id = 't-3'",
        (7,),
        "tasks row 3: cancel_fails: must be 0 or 1, got 7",
    ),
    "empty task id": (
        "UPDATE tasks SET task_id = ? WHERE task_id = 't-1'",
        ("",),
        "tasks row 1: task_id: must be a non-empty string, got ''",
    ),
    "owner a blob": (
        "UPDATE tasks SET owner = ? WHERE task_id = 't-2'",
        (b"\x00alice",),
        "tasks row 2: owner: must be a string or NULL",
    ),
    "region not in the world": (
        "UPDATE tasks SET region_id = ? WHERE task_id = 't-3'",
        ("xx-gone-1",),
        "tasks row 3: region_id: 'xx-gone-1' is not in regions",
    ),
    "half a schedule": (
        "UPDATE tasks SET processing_seconds = NULL WHERE task_id = ?",
        ("t-1",),
        "tasks row 1: processing_seconds: must be a number of seconds >= 0, got None",
    ),
    "schedule text": (
        "UPDATE tasks SET queued_seconds = ? WHERE task_id = 't-1'",
        ("soon",),
        "tasks row 1: queued_seconds: must be a number of seconds >= 0, got 'soon'",
    ),
    "bad outcome": (
        "UPDATE tasks SET outcome = ? WHERE task_id = 't-1'",
        ("Processing",),
        "tasks row 1: outcome: Schedule.outcome must be Finished or Failed",
    ),
    "schedule without creation time": (
        "UPDATE tasks SET creation_time = NULL WHERE task_id = ?",
        ("t-1",),
        "tasks row 1: creation_time: a task with a schedule needs one",
    ),
    "a seed row": (
        "UPDATE seed_tasks SET status = ? WHERE task_id = 't-3'",
        ("Bogus",),
        "seed_tasks row 3: status: 'Bogus' is not one of",
    ),
    "a region row": (
        "INSERT INTO regions VALUES (?)",
        ("",),
        "regions row 1: region_id: must be a non-empty string, got ''",
    ),
    "a newline in a value": (
        "UPDATE tasks SET status = ? WHERE task_id = 't-2'",
        ("Processing\nlistening on http://127.0.0.1:1",),
        "tasks row 2: status: 'Processing\\nlistening on",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_a_row_that_cannot_be_read_refuses_the_store_at_open(tmp_path: Path, name: str) -> None:
    statement, args, expected = BAD_ROWS[name]
    path = store_file(tmp_path / "store.db")
    tamper(path, statement, *args)
    contents = path.read_bytes()

    with pytest.raises(StoreFileError) as caught:
        SqliteStore(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {expected}"), message
    assert caught.value.path == str(path)
    assert "\n" not in message
    assert path.read_bytes() == contents


def test_a_row_spoilt_while_the_store_is_open_is_a_store_file_error(tmp_path: Path) -> None:
    path = store_file(tmp_path / "store.db")
    with SqliteStore(path) as store:
        tamper(path, "UPDATE tasks SET status = 'Gone' WHERE task_id = 't-3'")
        with pytest.raises(StoreFileError, match=r"tasks row .*'t-3'.*: status: 'Gone'"):
            store.find_task(HANGZHOU, "t-3")
        assert store.find_task(HANGZHOU, "t-2") is not None  # the others still read
