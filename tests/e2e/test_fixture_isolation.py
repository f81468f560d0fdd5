"""``ecs_emulator`` shares one server per session and resets it before each test: isolation
stays exact. The same test runs three times (a, b, then a again): each first checks that
nothing another run made is left -- task, account, faults, nonce, clock -- then leaves all
of those behind. In any order, a later run would trip over an earlier one's leftovers if
the reset missed one. Then what a reset cannot restore (a stopped server, a swapped store
or app part) gets a new server, and a test's own ``ecs_clock`` a server of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from support.pytest_run import run_pytest

from taskcancel import (
    AuthenticationError,
    Client,
    HttpTransport,
    MemoryStore,
    Schedule,
    Store,
    Task,
    TaskNotFound,
    TaskStatus,
    wire,
)
from taskcancel.testing import EmulatorServer, FakeClock, clean_env
from taskcancel.testing._shared import SharedEmulator
from taskcancel.worldfile import Faults

START = datetime(2026, 1, 1, tzinfo=UTC)
NONCE = "isolation-nonce"  # every run signs one call with this very nonce


def tasks_in(store: Store) -> int:
    """How many tasks the (in-memory) store of an emulator holds."""
    assert isinstance(store, MemoryStore), store
    return len(store)


def call_with_the_shared_nonce(server: EmulatorServer) -> httpx.Response:
    out = wire.v1.build_request(
        "DescribeTasks",
        {"RegionId": "cn-hangzhou"},
        access_key_id=server.access_key_id,
        secret=server.access_key_secret,
        nonce=NONCE,
        timestamp=datetime.now(UTC),
    )
    with httpx.Client(base_url=server.endpoint, trust_env=False) as http:
        return http.request(out.method, out.target, headers=list(out.headers))


def running_task(task_id: str) -> Task:
    return Task(task_id=task_id, region_id="cn-hangzhou", action="ImportImage", status="Processing")


@pytest.mark.parametrize(("me", "other"), [("a", "b"), ("b", "a"), ("a", "b")])
def test_no_test_sees_what_another_made(
    ecs_emulator: EmulatorServer, ecs_clock: FakeClock, me: str, other: str
) -> None:
    # Nothing of any other run: the start world, the start clock, no faults, no nonce.
    assert ecs_emulator.ops.clock is ecs_clock and ecs_clock() == START
    assert ecs_emulator.faults == Faults()
    assert set(ecs_emulator.accounts) == {"testid"}
    assert tasks_in(ecs_emulator.store) == 0
    with ecs_emulator.client() as client:
        assert list(client.describe_tasks("cn-hangzhou").tasks) == []
        for task_id in (f"t-iso-{other}", f"t-iso-{me}"):
            with pytest.raises(TaskNotFound):
                client.describe_task_attribute("cn-hangzhou", task_id)
    transport = HttpTransport(
        ecs_emulator.endpoint, access_key_id=f"acct-{other}", access_key_secret="secret"
    )
    with Client(transport) as stranger, pytest.raises(AuthenticationError):
        stranger.describe_tasks("cn-hangzhou")
    assert call_with_the_shared_nonce(ecs_emulator).status_code == 200

    # Leave everything behind: a task (cancelled), an account, a used nonce, the clock
    # an hour on, and every call throttled.
    ecs_emulator.add_account(f"acct-{me}", "secret")
    ecs_emulator.add_task(running_task(f"t-iso-{me}"))
    with ecs_emulator.client() as client:
        client.cancel_task("cn-hangzhou", f"t-iso-{me}")
    assert call_with_the_shared_nonce(ecs_emulator).json()["Code"] == "SignatureNonceUsed"
    ecs_clock.advance(hours=1)
    ecs_emulator.set_faults(throttle_rate=1.0, latency_ms=1)


def test_scheduled_tasks_follow_ecs_clock(
    ecs_emulator: EmulatorServer, ecs_clock: FakeClock
) -> None:
    ecs_emulator.add_task(
        Task(
            task_id="t-iso-scheduled",
            region_id="cn-hangzhou",
            action="ExportImage",
            status="Waiting",
            creation_time=ecs_clock(),
            schedule=Schedule(queued_seconds=0, processing_seconds=60),
        )
    )
    with ecs_emulator.client() as client:
        task = client.describe_task_attribute("cn-hangzhou", "t-iso-scheduled")
        assert task.status is TaskStatus.PROCESSING
        ecs_clock.advance(seconds=61)
        task = client.describe_task_attribute("cn-hangzhou", "t-iso-scheduled")
        assert task.status is TaskStatus.FINISHED


# ------------------------------------------------------------ what a reset cannot restore


def test_a_stopped_or_changed_server_is_replaced() -> None:
    shared = SharedEmulator()
    try:
        first = shared.checkout()
        assert shared.checkout() is first and shared.started == 1

        first.stop()
        second = shared.checkout()
        assert second is not first and shared.started == 2
        assert second.endpoint.startswith("http://127.0.0.1:")

        second.load([running_task("t-own-store")], store=MemoryStore(clock=shared.clock))
        third = shared.checkout()
        assert third is not second and tasks_in(third.store) == 0

        third.add_account("other", "secret")  # a reset puts the accounts back
        assert shared.checkout() is third
        assert shared.started == 3
    finally:
        shared.close()


def test_a_checkout_rewinds_the_clock_and_forgets_the_world() -> None:
    shared = SharedEmulator()
    try:
        server = shared.checkout()
        server.add_task(running_task("t-gone"))
        shared.clock.advance(hours=5)
        assert shared.checkout() is server
        assert shared.clock() == START and tasks_in(server.store) == 0
    finally:
        shared.close()


# ------------------------------------------------------------------- pytest-xdist workers


SUITE = """
import os
import pytest

@pytest.mark.parametrize("n", range(12))
def test_each(ecs_emulator, ecs_clock, n):
    from taskcancel import Task
    assert len(ecs_emulator.store) == 0 and ecs_clock().year == 2026
    ecs_emulator.add_task(Task(task_id="t-same", region_id="cn-hangzhou",
                               action="ImportImage", status="Processing"))
    with ecs_emulator.client() as client:
        client.cancel_task("cn-hangzhou", "t-same")
    ecs_clock.advance(hours=n)
    with open(f"ports-{os.getpid()}.txt", "a") as out:
        out.write(f"{ecs_emulator.port}\\n")
"""


def test_one_server_per_xdist_worker(tmp_path: Path) -> None:
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    run = run_pytest(
        tmp_path / "test_suite.py",
        cwd=tmp_path,
        env=clean_env(),
        options=("-p", "xdist.plugin", "-n", "2"),
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "12 passed" in run.stdout, run.stdout
    by_worker = {path.name: path.read_text().split() for path in tmp_path.glob("ports-*.txt")}
    assert sum(len(ports) for ports in by_worker.values()) == 12
    # Each worker served all its tests from one server.
    assert all(len(set(ports)) == 1 for ports in by_worker.values()), by_worker
