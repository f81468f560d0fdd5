"""The pytest plugin: its fixtures here, and the README's examples in a fresh pytest run."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT

from taskcancel import Client, MemoryStore, Task, TaskNotFound, TaskStatus
from taskcancel.testing import EmulatorServer, FakeClock
from taskcancel.testing.plugin import REAL_CLOUD_ENDPOINT, CloudTarget, real_cloud_target

# -- the README examples, verbatim (README "Testing your code with taskcancel") ---------

README_MEMORY = '''\
import pytest
from taskcancel import Client, IncorrectTaskStatus, Task, TaskStatus


def cancel_running_imports(client: Client, region_id: str) -> list[str]:
    """Your code: cancel every running image import in a region."""
    page = client.describe_tasks(region_id, task_action="ImportImage", task_status="Processing")
    for task in page.tasks:
        client.cancel_task(region_id, task.task_id)
    return [task.task_id for task in page.tasks]


def test_cancel_running_imports(ecs_memory, ecs_memory_store):
    ecs_memory_store.add_task(Task(task_id="t-bp1hvgwromzv32iq0001", region_id="cn-hangzhou",
                                   action="ImportImage", status="Processing"))
    ecs_memory_store.add_task(Task(task_id="t-bp1hvgwromzv32iq0002", region_id="cn-hangzhou",
                                   action="ImportImage", status="Finished"))

    assert cancel_running_imports(ecs_memory, "cn-hangzhou") == ["t-bp1hvgwromzv32iq0001"]

    task = ecs_memory.describe_task_attribute("cn-hangzhou", "t-bp1hvgwromzv32iq0001")
    assert task.status is TaskStatus.DELETED  # a cancelled task is Deleted
    with pytest.raises(IncorrectTaskStatus):
        ecs_memory.cancel_task("cn-hangzhou", "t-bp1hvgwromzv32iq0001")
'''

README_SDK = """\
import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from Tea.exceptions import TeaException
from taskcancel import Task


def test_official_sdk_against_the_emulator(ecs_emulator):
    task = ecs_emulator.add_task(Task(task_id="t-bp1hvgwromzv32iq0003", region_id="cn-hangzhou",
                                      action="ExportImage", status="Processing"))
    ecs = EcsClient(ecs_emulator.sdk_config())  # HTTP to 127.0.0.1:PORT, key testid
    cancel = ecs_models.CancelTaskRequest(region_id="cn-hangzhou", task_id=task.task_id)

    ecs.cancel_task(cancel)
    attribute = ecs.describe_task_attribute(
        ecs_models.DescribeTaskAttributeRequest(region_id="cn-hangzhou", task_id=task.task_id)
    )
    assert attribute.body.task_status == "Deleted"

    with pytest.raises(TeaException) as error:
        ecs.cancel_task(cancel)
    assert error.value.code == "IncorrectTaskStatus"
"""

README_CHECK = """\
from hypothesis import settings
from taskcancel import InMemoryTransport, MemoryStore
from taskcancel.testing import CHECK_TRANSPORT_SETTINGS, EmulatorServer, check_transport


class RecordingTransport:
    \"\"\"Your transport: wraps another one and records the actions it carries.\"\"\"

    def __init__(self, inner):
        self.inner = inner
        self.actions = []

    def handle_request(self, request):
        self.actions.append(request.action)
        return self.inner.handle_request(request)

    def close(self):
        self.inner.close()


def test_recording_transport_keeps_the_contract():
    # factory(tasks) -> a fresh transport over exactly those tasks, calling as account None
    check_transport(lambda tasks: RecordingTransport(InMemoryTransport(MemoryStore(tasks))))


def test_recording_transport_over_http_keeps_the_contract():
    with EmulatorServer() as server:

        def factory(tasks):
            server.load(tasks)  # a fresh world per example
            return RecordingTransport(server.client().transport)

        # Over HTTP the caller is the access key, so the machine calls as that account.
        check_transport(factory, account=server.access_key_id,
                        settings=settings(CHECK_TRANSPORT_SETTINGS, max_examples=20))
"""

README_SCRIPTED = """\
import pytest
from taskcancel import Client, IncorrectTaskStatus, Task
from taskcancel.testing import ScriptedTransport

RUNNING = Task(task_id="t-bp1hvgwromzv32iq0004", region_id="cn-hangzhou",
               action="ImportImage", status="Processing")


def test_scripted_answers():
    with ScriptedTransport([RUNNING]) as transport:  # fails on leaving if calls are missing
        transport.expect_cancel(RUNNING, "success")
        transport.expect_cancel(RUNNING, IncorrectTaskStatus)  # it was cancelled just before
        client = Client(transport)
        client.cancel_task("cn-hangzhou", RUNNING.task_id)
        with pytest.raises(IncorrectTaskStatus):
            client.cancel_task("cn-hangzhou", RUNNING.task_id)


def test_impossible_script_is_refused():
    transport = ScriptedTransport()
    finished = Task(task_id="t-bp1hvgwromzv32iq0005", region_id="cn-hangzhou",
                    action="ImportImage", status="Finished")
    with pytest.raises(ValueError, match="the rules give IncorrectTaskStatus"):
        transport.expect_cancel(finished, "success")
"""

README_REAL_CLOUD = """\
import pytest
from taskcancel import TaskNotFound


@pytest.mark.real_cloud
def test_unknown_task_is_not_found(ecs_client):
    # The emulator by default; the real service with TASKCANCEL_REAL_CLOUD=1 and credentials.
    with pytest.raises(TaskNotFound):
        ecs_client.cancel_task("cn-hangzhou", "t-bp1doesnotexist000000")
"""

README_PROPERTY = """\
from hypothesis import given, strategies as st
from taskcancel import CancelRejected, Client, InMemoryTransport, MemoryStore
from taskcancel.testing import cancel_requests, worlds


def cancel_quietly(client, region_id, task_id):
    \"\"\"Your code: cancel, and turn a refusal into its error code.\"\"\"
    try:
        client.cancel_task(region_id, task_id)
        return "OK"
    except CancelRejected as error:
        return error.code


@given(worlds().flatmap(lambda w: st.tuples(st.just(w), cancel_requests(world=w))))
def test_cancel_quietly_never_raises(world_and_request):
    world, request = world_and_request
    client = Client(InMemoryTransport(MemoryStore(world)))
    assert cancel_quietly(client, request.region_id, request.task_id)
"""

README_PROCESS = """\
from taskcancel import Client, HttpTransport
from taskcancel.testing import ServeProcess


def test_against_a_real_serve_process():
    # `taskcancel serve --port 0` in a subprocess, proxy variables removed from its
    # environment; the endpoint comes from its `listening on` line.
    with ServeProcess(["--port", "0", "--log-level", "warning"]) as served:
        assert served.banner[-1] == f"listening on {served.endpoint}"
        transport = HttpTransport(served.endpoint, access_key_id="testid",
                                  access_key_secret="testsecret")
        with Client(transport) as client:
            client.cancel_task("cn-hangzhou", "t-demo-importimage-processing")
    assert served.process.returncode == 0  # stopped with SIGTERM, gracefully
"""

README_FILES = {
    "test_memory.py": README_MEMORY,
    "test_sdk.py": README_SDK,
    "test_check.py": README_CHECK,
    "test_scripted.py": README_SCRIPTED,
    "test_real_cloud.py": README_REAL_CLOUD,
    "test_property.py": README_PROPERTY,
    "test_process.py": README_PROCESS,
}


def _run_user_suite(tmp_path: Path, files: dict[str, str], **env: str) -> str:
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    environ = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ALIBABA_CLOUD_", "TASKCANCEL_", "PYTEST_"))
    }
    environ.update(env)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q", *files],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout + result.stderr


def _counts(output: str) -> dict[str, int]:
    summary = output.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|error)", summary)}


def test_readme_examples_pass_in_a_fresh_pytest_run(tmp_path: Path) -> None:
    # With a dead proxy configured, as on many CI machines: ecs_emulator must keep the
    # official SDK off it (the SDKs read the variables themselves, ignoring NO_PROXY).
    dead = "http://127.0.0.1:9"
    output = _run_user_suite(tmp_path, README_FILES, HTTP_PROXY=dead, HTTPS_PROXY=dead)
    assert _counts(output) == {"passed": 9}, output


def test_real_cloud_without_credentials_is_skipped_with_a_reason(tmp_path: Path) -> None:
    files = {name: README_FILES[name] for name in ("test_memory.py", "test_real_cloud.py")}
    output = _run_user_suite(tmp_path, files, TASKCANCEL_REAL_CLOUD="1")
    assert _counts(output) == {"passed": 1, "skipped": 1}, output
    assert "TASKCANCEL_REAL_CLOUD=1 but ALIBABA_CLOUD_ACCESS_KEY_ID" in output


# -- the fixtures, in this very run (the plugin is loaded through its entry point) -----


def test_ecs_memory_is_a_client_over_the_store(
    ecs_memory: Client, ecs_memory_store: MemoryStore, ecs_clock: FakeClock
) -> None:
    assert len(ecs_memory_store) == 0 and ecs_memory_store.clock is ecs_clock
    task = Task(
        task_id="t-pluginmemory00000000",
        region_id="cn-hangzhou",
        action="ImportImage",
        status="Processing",
    )
    ecs_memory_store.add_task(task)
    ecs_clock.advance(minutes=3)
    ecs_memory.cancel_task("cn-hangzhou", task.task_id)
    info = ecs_memory.describe_task_attribute("cn-hangzhou", task.task_id)
    assert info.status is TaskStatus.DELETED
    assert info.finished_time == ecs_clock()


def test_ecs_emulator_is_running(ecs_emulator: EmulatorServer) -> None:
    assert ecs_emulator.endpoint.startswith("http://127.0.0.1:")
    with ecs_emulator.client() as client, pytest.raises(TaskNotFound):
        client.cancel_task("cn-hangzhou", "t-nothere")


@pytest.mark.real_cloud
def test_real_cloud_tests_get_the_emulator_by_default(
    ecs_endpoint: CloudTarget, ecs_client: Client
) -> None:
    if os.environ.get("TASKCANCEL_REAL_CLOUD") == "1":
        pytest.skip("this run is against the real service")
    assert not ecs_endpoint.is_real and ecs_endpoint.emulator is not None
    assert ecs_endpoint.endpoint == ecs_endpoint.emulator.endpoint
    with pytest.raises(TaskNotFound):
        ecs_client.cancel_task("cn-hangzhou", "t-nothere")


def test_real_cloud_target_reads_the_environment() -> None:
    assert real_cloud_target({}) is None
    assert real_cloud_target({"TASKCANCEL_REAL_CLOUD": "0"}) is None
    reason = real_cloud_target({"TASKCANCEL_REAL_CLOUD": "1"})
    assert isinstance(reason, str) and "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in reason
    target = real_cloud_target(
        {
            "TASKCANCEL_REAL_CLOUD": "1",
            "ALIBABA_CLOUD_ACCESS_KEY_ID": "LTAIid",
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "secret",
        }
    )
    assert isinstance(target, CloudTarget) and target.is_real
    assert (target.endpoint, target.access_key_id) == (REAL_CLOUD_ENDPOINT, "LTAIid")
    assert "secret" not in repr(target)
    config = target.sdk_config("cn-shanghai")
    assert (config.endpoint, config.protocol, config.region_id) == (
        "ecs.aliyuncs.com",
        "HTTPS",
        "cn-shanghai",
    )


def test_the_marker_is_registered(pytestconfig: pytest.Config) -> None:
    markers = pytestconfig.getini("markers")
    assert any(line.startswith("real_cloud:") for line in markers)


def test_the_testing_kit_page_shows_exactly_the_examples_tested_here() -> None:
    readme = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    examples = (
        README_MEMORY,
        README_SDK,
        README_CHECK,
        README_SCRIPTED,
        README_REAL_CLOUD,
        README_PROPERTY,
        README_PROCESS,
    )
    for example in examples:
        assert f"```python\n{example}```" in readme, example.splitlines()[0:3]
