"""`taskcancel serve --store`, killed with SIGKILL mid-stream, loses nothing it acknowledged."""

from __future__ import annotations

import json
import signal
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

from taskcancel import Client, HttpTransport, IncorrectTaskStatus, TaskStatus, TransportError
from taskcancel.testing import ServeProcess

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

TASKS = 1000


def _world(path: Path) -> None:
    tasks = [
        {
            "TaskId": f"t-crash{n:015d}",
            "RegionId": "cn-hangzhou",
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
        }
        for n in range(TASKS)
    ]
    path.write_text(json.dumps({"Regions": ["cn-hangzhou"], "Tasks": tasks}))


def _serve(store: Path, world: Path, log: Path) -> ServeProcess:
    args = ["--port", "0", "--store", str(store), "--world", str(world), "--log-level", "warning"]
    return ServeProcess(args, log_path=log)


def _client(endpoint: str) -> Client:
    return Client(
        HttpTransport(endpoint, access_key_id="testid", access_key_secret="testsecret", timeout=5)
    )


def test_acknowledged_cancels_survive_sigkill(tmp_path: Path) -> None:
    store, world = tmp_path / "state.sqlite", tmp_path / "world.json"
    _world(world)
    first = _serve(store, world, tmp_path / "first.log").start()
    acknowledged: list[str] = []
    half = threading.Event()

    def stream() -> None:
        with _client(first.endpoint) as client:
            for n in range(TASKS):
                task_id = f"t-crash{n:015d}"
                try:
                    client.cancel_task("cn-hangzhou", task_id)
                except TransportError:
                    return  # the server died under us: this one was never acknowledged
                acknowledged.append(task_id)
                if len(acknowledged) == TASKS // 10:
                    half.set()

    worker = threading.Thread(target=stream)
    worker.start()
    try:
        assert half.wait(timeout=60), "the stream of cancels did not get going"
        first.send_signal(signal.SIGKILL)
        assert first.wait(timeout=10) == -signal.SIGKILL
    finally:
        first.stop()
    worker.join(timeout=30)
    assert TASKS // 10 <= len(acknowledged) < TASKS

    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    # The same flags again: the seed must not overwrite the state.
    with (
        _serve(store, world, tmp_path / "second.log") as second,
        _client(second.endpoint) as client,
    ):
        for task_id in acknowledged:
            info = client.describe_task_attribute("cn-hangzhou", task_id)
            assert info.status is TaskStatus.DELETED, task_id
            assert info.finished_time is not None
            with pytest.raises(IncorrectTaskStatus):
                client.cancel_task("cn-hangzhou", task_id)
        statuses = {
            client.describe_task_attribute("cn-hangzhou", f"t-crash{n:015d}").status
            for n in range(TASKS)
        }
        assert statuses <= {TaskStatus.DELETED, TaskStatus.PROCESSING}
