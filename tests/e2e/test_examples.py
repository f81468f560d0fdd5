"""``examples/``: the world file uses every field of the format, and the pytest file passes.

The example pytest file runs in a pytest process of its own, as a user would run it
(``python -m pytest examples/``), so it meets the plugin exactly as an installed
taskcancel gives it. (``examples/node`` has its own test, tests/e2e/test_node_sdk.py.)
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from support import ROOT
from support.pytest_run import run_pytest
from support.serve import clean_env, start_serve, stop_serve, taskcancel_command

from taskcancel import TaskAction, TaskStatus
from taskcancel.worldfile import load_world
from taskcancel.worldfile._world import _FAULT_KEYS, _SCHEDULE_KEYS, _TASK_KEYS, _TOP_KEYS

EXAMPLES = ROOT / "examples"
WORLD = EXAMPLES / "world.json"


def example_world() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(WORLD.read_text(encoding="utf-8"))
    return data


def test_the_example_world_uses_every_field_of_the_format() -> None:
    world = example_world()
    tasks = world["Tasks"]
    assert set(world) == _TOP_KEYS - {"Now"}  # Now: only what a saved state carries
    assert {key for account in world["Accounts"] for key in account} == {
        "AccessKeyId",
        "AccessKeySecret",
    }
    assert {key for task in tasks for key in task} == _TASK_KEYS
    assert {key for task in tasks for key in task.get("Schedule", {})} == _SCHEDULE_KEYS
    assert set(world["Faults"]) == _FAULT_KEYS
    # ... and every value that a field can take where there are few.
    assert {task["TaskAction"] for task in tasks} == {action.value for action in TaskAction}
    outcomes = {task["Schedule"]["Outcome"] for task in tasks if "Schedule" in task}
    assert outcomes == {"Finished", "Failed"}
    assert {task.get("CancelFails", False) for task in tasks} == {True, False}
    # Defaults are shown too: a task without AccessKeyId (the first account), one without
    # CreationTime but with a Schedule (it starts when the server starts).
    assert any("AccessKeyId" not in task for task in tasks)
    assert any("Schedule" in task and "CreationTime" not in task for task in tasks)


def test_the_example_world_loads() -> None:
    from datetime import UTC, datetime

    spec = load_world(WORLD, now=datetime(2026, 1, 1, 10, 0, tzinfo=UTC))
    assert len(spec.tasks) == len(example_world()["Tasks"])
    assert {task.status for task in spec.tasks} >= {
        TaskStatus.PROCESSING,
        TaskStatus.FINISHED,
        TaskStatus.WAITING,
        TaskStatus.PAUSED,
    }


def test_serve_runs_the_example_world(tmp_path: Path) -> None:
    """``taskcancel serve --world examples/world.json``, then ``taskcancel state``."""
    served = start_serve(
        ["--port", "0", "--world", str(WORLD), "--log-level", "warning"],
        log_path=tmp_path / "serve.log",
    )
    try:
        env = {k: v for k, v in clean_env().items() if not k.startswith("TASKCANCEL_")}
        state = subprocess.run(
            taskcancel_command("state", "--endpoint", served.endpoint),
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    finally:
        stop_serve(served.process)
    assert (state.returncode, state.stderr) == (0, "")
    shown = {line.split()[2] for line in state.stdout.splitlines()[1:]}
    assert shown == {task["TaskId"] for task in example_world()["Tasks"]}


def test_the_example_pytest_file_passes() -> None:
    result = run_pytest(EXAMPLES, cwd=ROOT, env=clean_env())
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout + result.stderr
    # Every test passed: nothing failed, errored or was skipped.
    assert re.fullmatch(r"(\d+) passed in [\d.]+s( \(\d+:\d\d:\d\d\))?", summary), summary
