"""SqliteStore's quotas hold across processes sharing one file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support.stores import HANGZHOU, task

from taskcancel import SqliteStore

QUOTA_WORKER = """
import sys
from taskcancel import Task
from taskcancel import SqliteStore

path, prefix = sys.argv[1], sys.argv[2]
with SqliteStore(path) as store:
    print("ready", flush=True)
    sys.stdin.readline()
    made = 0
    for i in range(60):
        new = Task(task_id=f"{prefix}-{i}", region_id="cn-hangzhou", action="ImportImage",
                   status="Processing", owner="alice")
        made += store.create_task(new, max_tasks=50)
print(made, flush=True)
"""


def test_two_processes_sharing_a_store_never_exceed_the_quota(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    SqliteStore(path, [task("t-0", owner="alice")]).close()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", QUOTA_WORKER, str(path), prefix],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for prefix in ("a", "b")
    ]
    made: list[int] = []
    try:
        for worker in workers:
            assert worker.stdout is not None
            assert worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        for worker in workers:
            out, _ = worker.communicate(timeout=60)
            assert worker.returncode == 0
            made.append(int(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    assert sum(made) == 49  # 50 minus the seeded one
    with SqliteStore(path) as store:
        assert store.count_tasks(HANGZHOU, account="alice") == 50
        assert len(store.list_tasks(HANGZHOU, account="alice")) == 50
