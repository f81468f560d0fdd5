"""The official Node.js SDK (``@alicloud/ecs20140526``) against a real ``taskcancel serve``.

``examples/node/cancel-task.js`` drives the emulator as a JavaScript test suite would:
control-plane reset and seed, cancels signed ACS3 and V1, a repeated cancel, a fake-clock
advance. The npm packages come from ``examples/node/package-lock.json``, installed once
with ``npm ci`` into ``~/.cache/taskcancel/npm-<hash of package.json and the lock>/`` and
reused by later runs. Without ``node`` (or ``npm``, or the registry) the tests are skipped,
except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from _serve import ServedEmulator, clean_env, start_serve, stop_serve

NODE_DIR = Path(__file__).resolve().parents[1] / "examples" / "node"
PROGRAM = NODE_DIR / "cancel-task.js"
MANIFESTS = ("package.json", "package-lock.json")
MIN_NODE = 20
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> NoReturn:
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true the Node.js SDK test must run")
    pytest.skip(reason)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "taskcancel"


def _lock_key() -> str:
    digest = hashlib.sha256()
    for name in MANIFESTS:
        digest.update((NODE_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def _installed(directory: Path) -> bool:
    return (directory / "node_modules" / "@alicloud" / "ecs20140526" / "package.json").is_file()


def _npm_ci(npm: str, target: Path) -> None:
    """``npm ci`` into a private directory, then rename it to ``target`` (atomic, so
    concurrent runs never see half an install; the loser of a race drops its copy)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.with_name(f"{target.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    work.mkdir()
    try:
        for name in MANIFESTS:
            shutil.copyfile(NODE_DIR / name, work / name)
        # The registry may need the proxy variables, so npm keeps this environment.
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
        try:
            done = subprocess.run(
                command,
                cwd=work,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=600,
            )
        except subprocess.TimeoutExpired:
            _unavailable(f"`{' '.join(command)}` in {work} took over 600 s")
        if done.returncode != 0 or not _installed(work):
            _unavailable(
                f"`{' '.join(command)}` in {work} failed (exit {done.returncode}):\n"
                + (done.stderr or done.stdout)[-2000:]
            )
        try:
            work.rename(target)
        except OSError:
            if not _installed(target):
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


@dataclass(frozen=True)
class Node:
    """How to run the example: this ``node``, in this environment (NODE_PATH set)."""

    executable: str
    env: dict[str, str]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.executable, str(PROGRAM), *args],
            cwd=NODE_DIR,
            env=self.env if env is None else env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )


@pytest.fixture(scope="module")
def node() -> Node:
    """``node`` with the locked npm packages on NODE_PATH and no proxy variables."""
    if not all((NODE_DIR / name).is_file() for name in (*MANIFESTS, PROGRAM.name)):
        _unavailable(f"{NODE_DIR} lacks {', '.join(MANIFESTS)} or {PROGRAM.name}")
    executable, npm = shutil.which("node"), shutil.which("npm")
    if executable is None:
        _unavailable("node is not installed (the Node.js SDK test needs Node.js 20 or newer)")
    version = subprocess.run(
        [executable, "--version"], capture_output=True, text=True, timeout=30
    ).stdout.strip()
    match = re.fullmatch(r"v(\d+)\.\d+\.\d+.*", version)
    if match is None or int(match.group(1)) < MIN_NODE:
        _unavailable(f"node {version or '(no version)'} at {executable} is older than {MIN_NODE}")
    if npm is None:
        _unavailable(f"npm is not installed (node {version} is at {executable})")
    target = _cache_root() / f"npm-{_lock_key()}"
    if not _installed(target):
        _npm_ci(npm, target)
    # Loopback calls only: no proxy variables (clean_env), the packages on NODE_PATH.
    return Node(executable, clean_env(NODE_PATH=str(target / "node_modules")))


@pytest.fixture
def fake_clock_serve(tmp_path: Path) -> Iterator[ServedEmulator]:
    served = start_serve(
        ["--port", "0", "--clock", "fake", "--log-level", "warning"],
        log_path=tmp_path / "serve.log",
    )
    try:
        yield served
    finally:
        stop_serve(served.process)


def _output(run: subprocess.CompletedProcess[str]) -> str:
    return f"exit {run.returncode}\n--- stdout\n{run.stdout}--- stderr\n{run.stderr}"


def test_the_node_sdk_resets_seeds_cancels_and_advances_the_clock(
    node: Node, fake_clock_serve: ServedEmulator
) -> None:
    run = node.run(fake_clock_serve.endpoint)

    assert run.returncode == 0, _output(run)
    lines = run.stdout.splitlines()
    assert all(re.match(r"ok \d+ - ", line) for line in lines[:-1]), _output(run)
    assert lines[-1] == (
        f"all {len(lines) - 1} checks passed against {fake_clock_serve.endpoint}"
    ), _output(run)
    checks = [line.split(" - ", 1)[1] for line in lines[:-1]]
    for expected in (
        "health: ready, clock fake (profile 2017, store memory)",
        "POST /_taskcancel/reset answers HTTP 200 with a JSON object",
        "POST /_taskcancel/tasks answers HTTP 201 with a JSON object",
        "CancelTask t-node-acs3-import (ACS3): HTTP 200 with a RequestId",
        "  ... signed ACS3-HMAC-SHA256 (Authorization header)",
        'CancelTask t-node-v1-export (signatureAlgorithm "v2"): HTTP 200 with a RequestId',
        "  ... signed V1 HMAC-SHA1 (Signature in the query)",
        "CancelTask t-node-acs3-import again (ACS3): IncorrectTaskStatus, HTTP 403",
        "CancelTask t-node-v1-export again (V1): IncorrectTaskStatus, HTTP 403",
        "journal: the four CancelTask calls, in order, with their signature and code",
        "journal: the repeated cancel was decided by rules INCORRECT_TASK_STATUS (row 6), "
        "task Deleted",
        "DescribeTaskAttribute t-node-scheduled-import: Processing before the clock moves",
        "POST /_taskcancel/clock answers HTTP 200 with a JSON object",
        "DescribeTasks t-node-scheduled-import (V1): Finished 601s later",
        "DescribeTaskAttribute t-node-scheduled-import (ACS3): Finished, TaskProcess 100%",
        "after reset, t-node-acs3-import is gone: InvalidTaskId.NotFound, HTTP 400",
    ):
        assert expected in checks, f"missing check {expected!r}\n{_output(run)}"
    assert run.stderr == "", _output(run)

    again = node.run(fake_clock_serve.endpoint)  # reset makes it repeatable
    assert again.returncode == 0, _output(again)


def test_the_node_program_names_the_mismatch_and_exits_1(node: Node, tmp_path: Path) -> None:
    served = start_serve(["--port", "0", "--log-level", "warning"], log_path=tmp_path / "s.log")
    try:
        run = node.run(served.endpoint)  # the system clock cannot be advanced
    finally:
        stop_serve(served.process)

    assert run.returncode == 1, _output(run)
    assert run.stderr.startswith("not ok 2 - health: ready, clock fake"), _output(run)
    assert 'Clock "fake" (start with: taskcancel serve --clock fake)' in run.stderr
    assert '"Clock":"system"' in run.stderr, _output(run)


def test_the_node_program_without_an_endpoint_says_how_to_call_it(node: Node) -> None:
    env = {k: v for k, v in node.env.items() if k != "TASKCANCEL_ENDPOINT"}
    run = node.run(env=env)
    assert run.returncode == 2, _output(run)
    assert run.stderr.startswith("usage: node cancel-task.js http://HOST:PORT"), _output(run)

    run = node.run("https://127.0.0.1:8080", env=env)
    assert run.returncode == 2, _output(run)
    assert 'got "https://127.0.0.1:8080"' in run.stderr, _output(run)
