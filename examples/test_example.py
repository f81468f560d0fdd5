"""Testing code that cancels ECS tasks, with taskcancel's pytest plugin.

Run it from a checkout with ``python -m pytest examples/`` once taskcancel is installed with
its ``test`` extra: the plugin loads by itself and gives the ``ecs_*`` fixtures used here.
``world.json`` beside this file is a world file that uses every field of the format; the
``world`` fixture below runs an emulator over it, on the plugin's fake clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alibabacloud_ecs20140526 import models as ecs_models
from alibabacloud_ecs20140526.client import Client as EcsClient
from alibabacloud_tea_openapi.models import Config

from taskcancel import (
    CancelTaskFailed,
    Client,
    HttpTransport,
    IncorrectTaskStatus,
    MemoryStore,
    Task,
    TaskActionNotSupported,
    TaskNotFound,
    TaskStatus,
)
from taskcancel.testing import EmulatorServer, FakeClock, mock_ecs
from taskcancel.testing.plugin import PROXY_VARIABLES
from taskcancel.worldfile import load_world

WORLD = Path(__file__).with_name("world.json")

# -- the code under test ------------------------------------------------------------------


def cancel_image_task(region_id: str, task_id: str) -> str:
    """Your code: cancel an image import/export with the official SDK; return the RequestId.

    It builds its own client and names no endpoint and no key, as production code does;
    ``mock_ecs`` (or the ``ecs_mock`` fixture) points it at the emulator.
    """
    client = EcsClient(Config(region_id=region_id))
    request = ecs_models.CancelTaskRequest(region_id=region_id, task_id=task_id)
    return str(client.cancel_task(request).body.request_id)


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def world(ecs_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """An emulator over ``world.json``; its scheduled tasks start at ``ecs_clock()``."""
    for name in PROXY_VARIABLES:  # the official SDKs would send even loopback calls there
        monkeypatch.delenv(name, raising=False)
    with EmulatorServer(load_world(WORLD, now=ecs_clock()), clock=ecs_clock) as server:
        yield server


def status(server: EmulatorServer, region_id: str, task_id: str) -> TaskStatus:
    with server.client() as client:
        return client.describe_task_attribute(region_id, task_id).status


# -- tests ----------------------------------------------------------------------------------


def test_cancel_a_running_import(world: EmulatorServer) -> None:
    with world.client() as client:
        client.cancel_task("cn-hangzhou", "t-example-import-running")
        assert status(world, "cn-hangzhou", "t-example-import-running") is TaskStatus.DELETED
        with pytest.raises(IncorrectTaskStatus):  # cancelled already
            client.cancel_task("cn-hangzhou", "t-example-import-running")


@pytest.mark.parametrize(
    ("task_id", "refusal"),
    [
        ("t-example-export-finished", IncorrectTaskStatus),
        ("t-example-cancel-fails", CancelTaskFailed),  # "CancelFails": true
        ("t-example-redeploy", TaskActionNotSupported),
        ("t-example-other-tenant", TaskNotFound),  # another account's task is never revealed
    ],
)
def test_every_refusal_the_world_sets_up(
    world: EmulatorServer, task_id: str, refusal: type[Exception]
) -> None:
    with world.client() as client, pytest.raises(refusal):
        client.cancel_task("cn-hangzhou", task_id)


def test_each_tenant_cancels_its_own_task(world: EmulatorServer) -> None:
    transport = HttpTransport(
        world.endpoint, access_key_id="tenant-b", access_key_secret="tenant-b-secret"
    )
    with Client(transport) as tenant_b:
        tenant_b.cancel_task("cn-hangzhou", "t-example-other-tenant")
        assert tenant_b.describe_tasks("cn-hangzhou").total_count == 1  # only its own


def test_scheduled_tasks_follow_the_clock(world: EmulatorServer, ecs_clock: FakeClock) -> None:
    assert status(world, "cn-shanghai", "t-example-export-scheduled") is TaskStatus.WAITING
    assert status(world, "cn-shanghai", "t-example-import-will-fail") is TaskStatus.PROCESSING
    ecs_clock.advance(seconds=30)
    assert status(world, "cn-shanghai", "t-example-export-scheduled") is TaskStatus.PROCESSING
    ecs_clock.advance(seconds=600)
    assert status(world, "cn-shanghai", "t-example-export-scheduled") is TaskStatus.FINISHED
    with world.client() as client:
        failed = client.describe_task_attribute("cn-shanghai", "t-example-import-will-fail")
    assert (failed.status, failed.progress) == (TaskStatus.FAILED, "15%")


def test_your_code_against_the_world_file(world: EmulatorServer) -> None:
    with mock_ecs(world):
        cancel_image_task("cn-hangzhou", "t-example-import-running")
    assert status(world, "cn-hangzhou", "t-example-import-running") is TaskStatus.DELETED


def test_your_code_with_the_ecs_mock_fixture(ecs_mock: EmulatorServer) -> None:
    task = ecs_mock.add_task(
        Task(
            task_id="t-example-fixture",
            region_id="cn-hangzhou",
            action="ExportImage",
            status="Processing",
        )
    )
    cancel_image_task("cn-hangzhou", task.task_id)
    assert status(ecs_mock, "cn-hangzhou", task.task_id) is TaskStatus.DELETED


def test_your_code_against_the_in_memory_mock(
    ecs_memory: Client, ecs_memory_store: MemoryStore
) -> None:
    ecs_memory_store.add_task(
        Task(
            task_id="t-example-memory",
            region_id="cn-hangzhou",
            action="ImportImage",
            status="Processing",
        )
    )
    ecs_memory.cancel_task("cn-hangzhou", "t-example-memory")
    with pytest.raises(IncorrectTaskStatus):
        ecs_memory.cancel_task("cn-hangzhou", "t-example-memory")
