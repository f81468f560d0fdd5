"""The README's examples, run in order against one fresh `taskcancel serve` (its demo world)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT

from taskcancel.testing import PROXY_VARIABLES, ServeProcess, clean_env

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(start: str, end: str) -> str:
    return README[README.index(start) : README.index(end)]


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with ServeProcess(["--port", "0", "--log-level", "warning"]) as served:
        yield served.endpoint


def test_the_quickstart_calls_give_what_the_readme_says(endpoint: str) -> None:
    quickstart = _section("## Quickstart", "## The contract")
    commands = [
        line
        for block in _blocks(quickstart, "sh")
        for line in block.splitlines()
        if line.startswith("taskcancel ")
    ]
    env = clean_env(
        ALIBABA_CLOUD_ACCESS_KEY_ID="testid", ALIBABA_CLOUD_ACCESS_KEY_SECRET="testsecret"
    )
    results = []
    for command in commands:
        argv = shlex.split(command.replace("http://127.0.0.1:8080", endpoint))
        run = [sys.executable, "-m", "taskcancel", *argv[1:]]
        results.append(subprocess.run(run, capture_output=True, text=True, env=env, timeout=30))
    assert [r.returncode for r in results] == [0, 1, 0]  # cancel, cancel again, describe
    assert results[1].stderr.startswith("IncorrectTaskStatus: The specified task status")
    assert '"TaskStatus": "Deleted"' in results[2].stdout


def test_the_python_examples_run_in_order(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:  # both official SDKs honour proxies and ignore NO_PROXY
        monkeypatch.delenv(name, raising=False)
    usage = _section("## Using it", "### The command line")
    host_port = endpoint.removeprefix("http://")
    blocks = _blocks(usage, "python")
    assert len(blocks) >= 5
    for block in blocks:
        code = block.replace("127.0.0.1:8080", host_port)
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})


def test_the_world_file_example_loads_and_behaves_as_described(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from taskcancel import MemoryStore, TaskStatus
    from taskcancel.testing import FakeClock
    from taskcancel.worldfile._world import load_world

    (block,) = _blocks(_section("### The world file", "### Profiles"), "json")
    path = tmp_path / "world.json"
    path.write_text(block, encoding="utf-8")
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    world = load_world(path, now=start)
    assert dict(world.accounts) == {"testid": "testsecret", "other": "othersecret"}
    assert world.faults.retry_after_ms == 1000

    clock = FakeClock(start)
    store = MemoryStore(world.tasks, regions=world.regions, clock=clock)
    docs_task = store.get_task("cn-hangzhou", "t-23ym6mvro", account="testid")
    assert docs_task is not None and docs_task.status is TaskStatus.PROCESSING
    # The scheduled task has no CreationTime: it starts when the server starts (`now`),
    # owned by the first account, and its status follows the clock.
    seen = []
    for seconds in (0, 29, 30, 629, 630):
        clock.set(start + timedelta(seconds=seconds))
        task = store.get_task("cn-hangzhou", "t-lifecycle0000000001", account="testid")
        assert task is not None
        seen.append((task.status.value, task.progress))
    assert seen == [
        ("Waiting", "0%"),
        ("Waiting", "0%"),
        ("Processing", "0%"),
        ("Processing", "99%"),
        ("Finished", "100%"),
    ]
