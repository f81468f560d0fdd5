"""Fault rules against the official Node.js SDK (``@alicloud/ecs20140526``) and a real
``taskcancel serve``: every ``Error`` kind surfaces as the SDK's documented error class
(``ThrottlingError``, ``ClientError``, ``ServerError``) with its code and status, every
wire ``Fault`` as an error within the SDK's own 2 s read timeout, ``reset-after`` cancels
while the client sees an error, and two servers started with the same ``--seed`` give the
same sequence of answers. Also ``taskcancel faults`` and a world file's ``Faults.Rules``.

The npm packages are those of ``examples/node`` (the Node SDK test's), installed once with
``npm ci`` into ``~/.cache/taskcancel/npm-<hash>/``; without node or npm the tests skip
(under ``CI=true`` they fail).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.serve import start_serve, stop_serve

from taskcancel.testing import clean_env

ROOT = Path(__file__).resolve().parents[2]
NODE_DIR = ROOT / "examples" / "node"
PROGRAM = Path(__file__).with_name("node_fault_rules.js")
MANIFESTS = ("package.json", "package-lock.json")
REGION = "cn-hangzhou"
TASKS = [f"t-node-fault-{n:02d}" for n in range(30)]
IN_CI = os.environ.get("CI", "").lower() == "true"

ERRORS = [
    ("Throttling.User", "ThrottlingError", 400),
    ("Throttling.Api", "ThrottlingError", 400),
    ("ServiceUnavailable", "ServerError", 503),
    ("InternalError", "ServerError", 500),
    ("IncorrectTaskStatus", "ClientError", 403),
    ("CancelTaskFailed", "ClientError", 400),
]
FAULTS = ["reset", "reset-after", "stall", "truncate"]


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true the Node.js SDK tests must run")
    pytest.skip(reason)


def _installed(directory: Path) -> bool:
    return (directory / "node_modules" / "@alicloud" / "ecs20140526" / "package.json").is_file()


@pytest.fixture(scope="module")
def node_env() -> tuple[str, dict[str, str]]:
    """``node`` and an environment with the locked packages on NODE_PATH."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        _unavailable("node and npm are needed for the Node.js SDK")
    assert node is not None and npm is not None
    digest = hashlib.sha256()
    for name in MANIFESTS:
        digest.update((NODE_DIR / name).read_bytes())
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    target = Path(base) / "taskcancel" / f"npm-{digest.hexdigest()[:16]}"
    if not _installed(target):
        work = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
        work.mkdir(parents=True)
        try:
            for name in MANIFESTS:
                shutil.copyfile(NODE_DIR / name, work / name)
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                cwd=work,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=600,
            )
            if done.returncode != 0 or not _installed(work):
                _unavailable(f"npm ci failed: {(done.stderr or done.stdout)[-2000:]}")
            try:
                work.rename(target)
            except OSError:
                if not _installed(target):
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return node, clean_env(NODE_PATH=str(target / "node_modules"))


def world(path: Path, rules: list[dict[str, Any]] | None = None) -> Path:
    tasks = [
        {"TaskId": t, "RegionId": REGION, "TaskAction": "ImportImage", "TaskStatus": "Processing"}
        for t in TASKS
    ]
    document: dict[str, Any] = {"Tasks": tasks}
    if rules is not None:
        document["Faults"] = {"Rules": rules}
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Any]:
    running = start_serve(
        [
            "--port",
            "0",
            "--seed",
            "5",
            "--world",
            str(world(tmp_path / "w.json")),
            "--log-level",
            "warning",
        ],
        log_path=tmp_path / "serve.log",
    )
    try:
        yield running
    finally:
        stop_serve(running.process)


def cancel(
    node_env: tuple[str, dict[str, str]], endpoint: str, *tasks: str
) -> list[dict[str, Any]]:
    node, env = node_env
    run = subprocess.run(
        [node, str(PROGRAM), endpoint, *tasks],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,  # a hang fails here; each call has the SDK's 2 s read timeout
    )
    assert run.returncode == 0, run.stderr
    return [json.loads(line) for line in run.stdout.splitlines()]


def put_rules(endpoint: str, rules: list[dict[str, Any]]) -> None:
    answer = httpx.put(f"{endpoint}/_taskcancel/faults", json={"Rules": rules}, trust_env=False)
    assert answer.status_code == 200, answer.text


def task_status(endpoint: str, task_id: str) -> str:
    state = httpx.get(f"{endpoint}/_taskcancel/state", trust_env=False).json()
    return str(next(t["TaskStatus"] for t in state["Tasks"] if t["TaskId"] == task_id))


def on(task_id: str, **outcome: Any) -> dict[str, Any]:
    return {"Name": f"on-{task_id}", "Match": {"TaskId": task_id}, "When": {"Every": 1}, **outcome}


def test_each_error_is_the_node_sdks_documented_error_class(
    node_env: tuple[str, dict[str, str]], served: Any
) -> None:
    tasks = TASKS[: len(ERRORS)]
    put_rules(
        served.endpoint, [on(t, Error=code) for t, (code, _, _) in zip(tasks, ERRORS, strict=True)]
    )
    outcomes = cancel(node_env, served.endpoint, *tasks)
    seen = [(o["code"], o["name"], o["statusCode"]) for o in outcomes]
    assert seen == ERRORS
    assert [o["retryAfter"] for o in outcomes[:2]] == [1000, 1000]  # RetryAfterMs's default
    assert all(task_status(served.endpoint, t) == "Processing" for t in tasks)


def test_each_wire_fault_is_an_error_within_the_sdks_timeout(
    node_env: tuple[str, dict[str, str]], served: Any
) -> None:
    tasks = TASKS[10 : 10 + len(FAULTS)]
    rules = [
        on(t, Fault=f, **({"StallSeconds": 15} if f == "stall" else {}))
        for t, f in zip(tasks, FAULTS, strict=True)
    ]
    put_rules(served.endpoint, rules)
    outcomes = cancel(node_env, served.endpoint, *tasks)
    for outcome, fault in zip(outcomes, FAULTS, strict=True):
        # No answer: Node's own socket error, or the SDK's RequestTimeoutError (2 s).
        assert outcome["ok"] is False and outcome["statusCode"] is None, (fault, outcome)
        if fault == "stall":
            assert outcome["name"] == "RequestTimeoutError", outcome
        else:
            assert outcome["code"] == "ECONNRESET", (fault, outcome)
    done = {
        "reset": "Processing",
        "stall": "Processing",
        "reset-after": "Deleted",
        "truncate": "Deleted",
    }
    assert [task_status(served.endpoint, t) for t in tasks] == [done[f] for f in FAULTS]


def test_reset_after_is_applied_and_the_retry_gets_incorrect_task_status(
    node_env: tuple[str, dict[str, str]], served: Any
) -> None:
    task = TASKS[20]
    put_rules(
        served.endpoint,
        [{"Name": "lost", "Match": {"TaskId": task}, "When": {"First": 1}, "Fault": "reset-after"}],
    )
    first, retry = cancel(node_env, served.endpoint, task, task)
    assert first["ok"] is False and first["statusCode"] is None
    assert task_status(served.endpoint, task) == "Deleted"
    assert (retry["name"], retry["code"], retry["statusCode"]) == (
        "ClientError",
        "IncorrectTaskStatus",
        403,
    )


def test_two_servers_with_the_same_seed_answer_the_same_sequence(
    node_env: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    coin = [
        {
            "Name": "coin",
            "Match": {"Action": "CancelTask"},
            "When": {"Probability": 0.5},
            "Error": "ServiceUnavailable",
        }
    ]
    path = world(tmp_path / "coin.json", coin)
    runs = []
    for n in range(2):
        running = start_serve(
            ["--port", "0", "--seed", "99", "--world", str(path), "--log-level", "warning"],
            log_path=tmp_path / f"serve-{n}.log",
        )
        try:
            runs.append([o.get("code") or "OK" for o in cancel(node_env, running.endpoint, *TASKS)])
            shown = subprocess.run(
                [sys.executable, "-m", "taskcancel", "faults", "--endpoint", running.endpoint],
                capture_output=True,
                text=True,
                timeout=60,
                env=clean_env(PYTHONPATH=os.environ.get("PYTHONPATH", "")),
            )
        finally:
            stop_serve(running.process)
        assert shown.returncode == 0, shown.stderr
        fired = runs[-1].count("ServiceUnavailable")
        assert shown.stdout.splitlines()[-1].split()[-2:] == [str(len(TASKS)), str(fired)]
    assert runs[0] == runs[1]
    assert set(runs[0]) == {"OK", "ServiceUnavailable"}


def test_a_bad_rule_in_a_world_file_exits_2_naming_file_rule_and_field(tmp_path: Path) -> None:
    path = world(tmp_path / "bad.json", [{"Name": "x", "When": {"Every": 0}, "Error": "Nope"}])
    run = subprocess.run(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0", "--world", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(PYTHONPATH=os.environ.get("PYTHONPATH", "")),
    )
    assert run.returncode == 2
    assert f"{path}: Faults.Rules[0].When.Every: must be a positive integer, got 0" in run.stderr
