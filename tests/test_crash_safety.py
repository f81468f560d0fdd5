"""`taskcancel serve --store`, killed with SIGKILL mid-stream, loses nothing it acknowledged."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from taskcancel import Client, HttpTransport, IncorrectTaskStatus, TaskStatus, TransportError

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


def _serve(store: Path, world: Path) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taskcancel",
            "serve",
            "--port",
            "0",
            "--store",
            str(store),
            "--world",
            str(world),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("listening on "):
            return proc, line.split()[-1]
    proc.kill()
    raise AssertionError(f"serve did not start: {proc.stderr.read() if proc.stderr else ''}")


def _client(endpoint: str) -> Client:
    return Client(
        HttpTransport(endpoint, access_key_id="testid", access_key_secret="testsecret", timeout=5)
    )


def test_acknowledged_cancels_survive_sigkill(tmp_path: Path) -> None:
    store, world = tmp_path / "state.sqlite", tmp_path / "world.json"
    _world(world)
    proc, endpoint = _serve(store, world)
    acknowledged: list[str] = []
    half = threading.Event()

    def stream() -> None:
        with _client(endpoint) as client:
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
    assert half.wait(timeout=60), "the stream of cancels did not get going"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    worker.join(timeout=30)
    assert TASKS // 10 <= len(acknowledged) < TASKS

    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    proc, endpoint = _serve(store, world)  # same flags: the seed must not overwrite state
    try:
        with _client(endpoint) as client:
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
    finally:
        proc.terminate()
        proc.wait(timeout=10)
