"""SqliteStore across processes: an acknowledged cancel survives SIGKILL, and processes
sharing one file cancel each task exactly once. (One process: tests/unit/store/.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.stores import HANGZHOU, task

from taskcancel import (
    SqliteStore,
    StoreFileError,
    Task,
    TaskStatus,
)


def many(count: int, region_id: str = HANGZHOU) -> list[Task]:
    return [task(f"t-{i:05d}", region_id=region_id) for i in range(count)]


# -- persistence -----------------------------------------------------------------------


# -- refusals --------------------------------------------------------------------------


def refused(path: Path, *, match: str) -> StoreFileError:
    """Opening ``path`` is refused (naming the path) and leaves the file byte-identical."""
    contents = path.read_bytes()
    with pytest.raises(StoreFileError, match=match) as caught:
        SqliteStore(path, [task("t-1")])
    assert str(path) in str(caught.value)
    assert caught.value.path == str(path)
    assert path.read_bytes() == contents
    return caught.value


# -- round-trips -----------------------------------------------------------------------


# -- differential: SqliteStore decides exactly like MemoryStore --------------------------


# -- races: threads --------------------------------------------------------------------


# -- races: processes ------------------------------------------------------------------

WORKER = """
import json, sys
from taskcancel import Accepted, CancelRequest
from taskcancel import SqliteStore

path, region = sys.argv[1], sys.argv[2]
ids = json.loads(sys.stdin.readline())
with SqliteStore(path) as store:
    print("ready", flush=True)
    sys.stdin.readline()
    outcomes = {}
    for task_id in ids:
        decision = store.cancel(CancelRequest(region, task_id))
        outcomes[task_id] = "ok" if isinstance(decision, Accepted) else decision.reason.name
print(json.dumps(outcomes), flush=True)
"""


def test_processes_cancel_each_task_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    tasks = many(200)
    ids = [t.task_id for t in tasks]
    SqliteStore(path, tasks).close()

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), HANGZHOU],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results: list[dict[str, str]] = []
    try:
        for number, worker in enumerate(workers):
            assert worker.stdin is not None and worker.stdout is not None
            order = ids if number % 2 == 0 else ids[::-1]
            worker.stdin.write(json.dumps(order) + "\n")
            worker.stdin.flush()
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:  # all open: go
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0
            results.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()

    for task_id in ids:
        outcomes = sorted(result[task_id] for result in results)
        assert outcomes == ["INCORRECT_TASK_STATUS", "INCORRECT_TASK_STATUS", "ok"], task_id
    with SqliteStore(path) as store:
        assert {t.status for t in store.list_tasks(HANGZHOU, account=None)} == {TaskStatus.DELETED}


KILLED_WORKER = """
import os, signal, sys
from taskcancel import Accepted, CancelRequest
from taskcancel import SqliteStore

store = SqliteStore(sys.argv[1])  # never closed: the process dies holding it open
assert isinstance(store.cancel(CancelRequest(sys.argv[2], "t-1")), Accepted)
print("cancelled", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_an_acknowledged_cancel_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStore(path, [task("t-1"), task("t-2")]).close()
    worker = subprocess.run(
        [sys.executable, "-c", KILLED_WORKER, str(path), HANGZHOU],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert worker.stdout.strip() == "cancelled"
    assert worker.returncode != 0  # killed, not a clean exit
    with SqliteStore(path) as store:
        found = store.find_task(HANGZHOU, "t-1")
        assert found is not None and found.status is TaskStatus.DELETED
        assert store.find_task(HANGZHOU, "t-2") == task("t-2")
