"""The testing kit against real servers: ``check_transport`` over HTTP and SQLite, the
FakeClock driving a running emulator, and a fresh interpreter not importing hypothesis.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import hypothesis
import pytest

from taskcancel import (
    ApiRequest,
    ApiResponse,
    InMemoryTransport,
    Schedule,
    Task,
    Transport,
)
from taskcancel.testing import (
    CHECK_TRANSPORT_SETTINGS,
    EmulatorServer,
    FakeClock,
    check_transport,
)

QUICK = hypothesis.settings(CHECK_TRANSPORT_SETTINGS, database=None)


def test_importing_taskcancel_or_the_plugin_does_not_import_hypothesis() -> None:
    code = (
        "import sys, taskcancel, taskcancel.testing, taskcancel.testing.plugin; "
        "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
        "assert 'httptools' not in sys.modules, 'the connection layer imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- strategies ------------------------------------------------------------------------


# -- check_transport: conforming transports ------------------------------------------


def test_check_transport_passes_over_http_one_server() -> None:
    # One server for the whole run; each world gets a fresh store. The emulator calls as
    # its access key, so the machine does too, and the tasks keep the owners they have.
    with EmulatorServer() as server:

        def factory(tasks: list[Task]) -> Transport:
            server.load(tasks)
            return server.client().transport

        check_transport(
            factory,
            account=server.access_key_id,
            settings=hypothesis.settings(QUICK, max_examples=15),
        )


class ServerPerWorld:
    """A transport that owns its emulator: started per world, stopped on close."""

    def __init__(self, tasks: list[Task]) -> None:
        self.server = EmulatorServer(tasks).start()
        self.inner = self.server.client().transport

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
        self.server.stop()


def test_check_transport_passes_over_http_server_per_world() -> None:
    # account=None: EmulatorServer gives ownerless tasks to its access key, so the world
    # seen from that key is the machine's world seen from None.
    check_transport(ServerPerWorld, settings=hypothesis.settings(QUICK, max_examples=4))


class StoreClosing:
    def __init__(self, transport: Transport, store: Any) -> None:
        self.transport, self.store = transport, store

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()
        self.store.close()


def test_check_transport_passes_over_sqlite(tmp_path: Path) -> None:
    sqlite = pytest.importorskip("taskcancel._store.sqlite")

    def in_memory_transport(tasks: list[Task]) -> Transport:
        store = sqlite.SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db", tasks)
        return StoreClosing(InMemoryTransport(store), store)

    check_transport(in_memory_transport, settings=hypothesis.settings(QUICK, max_examples=20))

    with EmulatorServer() as server:

        def over_http(tasks: list[Task]) -> Transport:
            store = sqlite.SqliteStore(tmp_path / f"{uuid.uuid4().hex}.db", tasks)
            server.load(store=store)
            return StoreClosing(server.client(signature="v1").transport, store)

        check_transport(
            over_http,
            account=server.access_key_id,
            settings=hypothesis.settings(QUICK, max_examples=10),
        )


# -- check_transport: broken transports -----------------------------------------------


# -- FakeClock -------------------------------------------------------------------------


def _scheduled(clock: FakeClock) -> Task:
    return Task(
        task_id="t-scheduled00000000000",
        region_id="cn-hangzhou",
        action="ImportImage",
        status="Waiting",
        creation_time=clock(),
        schedule=Schedule(queued_seconds=10, processing_seconds=60),
    )


def test_fake_clock_drives_the_emulator() -> None:
    clock = FakeClock()
    task = _scheduled(clock)
    with EmulatorServer([task], clock=clock) as server, server.client() as client:
        assert client.describe_task_attribute("cn-hangzhou", task.task_id).status.value == "Waiting"
        clock.advance(minutes=5)
        assert (
            client.describe_task_attribute("cn-hangzhou", task.task_id).status.value == "Finished"
        )


# -- ScriptedTransport -----------------------------------------------------------------
