"""SIGINT and SIGTERM stop the real ``taskcancel serve`` process gracefully.

Both exit 0 with no traceback, even with a client connected or a second signal close
behind the first; with ``--store`` every cancel the server acknowledged is there after a
restart on the same file.
"""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import httpx
import pytest
from support.calls import HANGZHOU, call, serve_env

from taskcancel.testing import ServeProcess

SIGNALS = [signal.SIGINT, signal.SIGTERM]
TASKS = [f"t-signal-{n:03d}" for n in range(24)]


def _world(path: Path) -> Path:
    tasks = [
        {"TaskId": task_id, "RegionId": HANGZHOU, "TaskAction": "ImportImage",
         "TaskStatus": "Processing", "AccessKeyId": "testid"}
        for task_id in TASKS
    ]  # fmt: skip
    document = {
        "Regions": [HANGZHOU],
        "Accounts": [{"AccessKeyId": "testid", "AccessKeySecret": "testsecret"}],
        "Tasks": tasks,
    }
    path.write_text(json.dumps(document))
    return path


def _stop_with(served: ServeProcess, sig: int) -> str:
    served.send_signal(sig)
    assert served.wait(timeout=30) == 0
    served.stop()
    log = served.log_text()
    assert "Traceback" not in log
    assert "KeyboardInterrupt" not in log
    return log


def _cancel_all(endpoint: str, task_ids: list[str], threads: int = 4) -> list[int]:
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(mine: list[str]) -> None:
        with httpx.Client(timeout=30, trust_env=False) as http:
            for task_id in mine:
                reply = call(
                    http, endpoint, "CancelTask", {"RegionId": HANGZHOU, "TaskId": task_id}
                )
                with lock:
                    statuses.append(reply.status)

    workers = [
        threading.Thread(target=worker, args=(task_ids[n::threads],)) for n in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return statuses


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_acknowledged_cancels_survive_the_signal_and_a_restart(tmp_path: Path, sig: int) -> None:
    args = ["--port", "0", "--world", str(_world(tmp_path / "world.json"))]
    args += ["--store", str(tmp_path / "state.db")]
    served = ServeProcess(args, env=serve_env(), log_path=tmp_path / "1.log").start()
    assert _cancel_all(served.endpoint, TASKS) == [200] * len(TASKS)
    log = _stop_with(served, sig)  # right after the last acknowledgement
    assert f"stopping ({signal.Signals(sig).name})" in log
    assert log.rstrip().endswith("stopped")

    with ServeProcess(args, env=serve_env(), log_path=tmp_path / "2.log") as again:
        assert "(its tasks kept)" in again.banner[0]
        with httpx.Client(timeout=10, trust_env=False) as http:
            for task_id in TASKS:
                params = {"RegionId": HANGZHOU, "TaskId": task_id}
                reply = call(http, again.endpoint, "DescribeTaskAttribute", params)
                assert reply.body["TaskStatus"] == "Deleted", task_id
        _stop_with(again, sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_signal_stops_it_with_a_client_still_connected(tmp_path: Path, sig: int) -> None:
    served = ServeProcess(["--port", "0"], env=serve_env(), log_path=tmp_path / "log").start()
    with httpx.Client(timeout=10, trust_env=False) as http:  # a kept-alive connection
        assert http.get(served.endpoint + "/_taskcancel/health").status_code == 200
        _stop_with(served, sig)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_second_signal_close_behind_the_first_still_exits_0(tmp_path: Path, sig: int) -> None:
    served = ServeProcess(["--port", "0"], env=serve_env(), log_path=tmp_path / "log").start()
    served.send_signal(sig)
    served.send_signal(signal.SIGINT if sig == signal.SIGTERM else signal.SIGTERM)
    assert served.wait(timeout=30) == 0
    served.stop()
    assert "Traceback" not in served.log_text()
    assert served.log_text().count("stopping (") == 1


def test_signals_at_warning_level_stop_it_silently(tmp_path: Path) -> None:
    args = ["--port", "0", "--log-level", "warning"]
    served = ServeProcess(args, env=serve_env(), log_path=tmp_path / "log").start()
    assert _stop_with(served, signal.SIGINT) == ""
