"""The wheel, as a user gets it: built from this checkout, installed into a clean venv.

``python -m build --wheel``, then ``python -m venv`` and ``pip install WHEEL[server]``
(dependencies from the package index). That venv runs ``taskcancel --version`` and
``taskcancel serve`` (until its ``listening on`` line); after ``pip install
WHEEL[testing]`` its own pytest runs a test that uses the plugin's ``ecs_emulator``
fixture. Nothing of the checkout or of the developers' environment is importable there.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.distribution import PROXY_VARIABLES, build_wheel, control, unavailable

import taskcancel


@dataclass(frozen=True)
class Venv:
    root: Path
    wheel: Path
    env: dict[str, str]

    def bin(self, name: str) -> str:
        return str(self.root / "bin" / name)

    def run(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.root.parent,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def pip_install(self, requirement: str) -> None:
        # --no-compile: byte-compiling every installed package costs ~3 s of CPU an
        # install and is no part of what is checked here.
        done = self.run(
            self.bin("python"), "-m", "pip", "install", "--no-compile", requirement, timeout=900
        )
        if done.returncode != 0 and "No matching distribution" in done.stderr:
            unavailable(f"pip cannot reach the package index:\n{done.stderr[-1500:]}")
        assert done.returncode == 0, f"pip install {requirement}:\n{done.stdout}{done.stderr}"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    """A clean venv with ``WHEEL[server]`` installed."""
    root = tmp_path_factory.mktemp("clean") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    # Nothing of the checkout or the developers' venv: no PYTHONPATH, no PYTHONHOME.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PATH=f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}", VIRTUAL_ENV=str(root))
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1")
    made = Venv(root, wheel, env)
    made.pip_install(f"{wheel}[server]")
    yield made


def test_the_wheel_carries_the_typing_marker_classifiers_and_one_version(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
        headers = archive.read(metadata).decode()
    assert "taskcancel/py.typed" in names
    assert not any(name.startswith(("tests/", "benchmarks/")) for name in names), names
    version = re.search(r"^Version: (.+)$", headers, re.M)
    assert version is not None and version.group(1) == taskcancel.__version__
    for classifier in ("Typing :: Typed", "Framework :: Pytest", "Operating System :: OS "
                       "Independent", "Topic :: Software Development :: Testing",
                       "Programming Language :: Python :: 3.11"):  # fmt: skip
        assert f"Classifier: {classifier}\n" in headers, classifier
    assert re.search(r"^Project-URL: Source, https://", headers, re.M), headers[:2000]
    assert re.search(r"^License-Expression: MIT$", headers, re.M)
    extras = set(re.findall(r"^Provides-Extra: (.+)$", headers, re.M))
    assert {"server", "client", "testing", "test"} <= extras


def test_the_installed_command_prints_the_version_health_reports(venv: Venv) -> None:
    done = venv.run(venv.bin("taskcancel"), "--version")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"taskcancel {taskcancel.__version__}\n"


def test_the_installed_command_serves_until_sigterm(venv: Venv) -> None:
    env = {k: v for k, v in venv.env.items() if k not in PROXY_VARIABLES}
    process = subprocess.Popen(
        [venv.bin("taskcancel"), "serve", "--port", "0"],
        cwd=venv.root.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        seen = []
        for line in process.stderr:  # ends when it exits
            seen.append(line)
            if "listening on" in line:
                break
        match = re.search(r"listening on (http://\S+)", "".join(seen))
        assert match is not None, f"no 'listening on' line:\n{''.join(seen)}"
        status, health = control(match.group(1), "GET", "health")
        assert status == 200
        assert health["Version"] == taskcancel.__version__
    finally:
        process.send_signal(signal.SIGTERM)
        rest = process.communicate(timeout=30)[1]
    assert process.returncode == 0, rest
    assert "stopped" in rest


def test_the_testing_extra_runs_the_plugin_in_a_users_suite(venv: Venv) -> None:
    venv.pip_install(f"{venv.wheel}[testing]")
    suite = venv.root.parent / "user_suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_uses_the_emulator.py").write_text(
        "from alibabacloud_ecs20140526 import models\n"
        "from alibabacloud_ecs20140526.client import Client\n"
        "\n"
        "from taskcancel import Task\n"
        "\n"
        "\n"
        "def test_cancel_through_the_official_sdk(ecs_emulator):\n"
        "    task = Task(task_id='t-user', region_id='cn-hangzhou', action='ImportImage',\n"
        "                status='Processing')\n"
        "    ecs_emulator.add_task(task)\n"
        "    client = Client(ecs_emulator.sdk_config('cn-hangzhou'))\n"
        "    cancel = models.CancelTaskRequest(region_id='cn-hangzhou', task_id='t-user')\n"
        "    assert client.cancel_task(cancel).status_code == 200\n"
        "    ask = models.DescribeTaskAttributeRequest(region_id='cn-hangzhou', task_id='t-user')\n"
        "    assert client.describe_task_attribute(ask).body.task_status == 'Deleted'\n",
        encoding="utf-8",
    )
    done = venv.run(venv.bin("python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite))

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout
    freeze = venv.run(venv.bin("python"), "-m", "pip", "list", "--format", "json")
    installed = {p["name"].lower() for p in json.loads(freeze.stdout)}
    assert not installed & {"mypy", "ruff", "moto", "boto3", "pytest-xdist"}, installed
