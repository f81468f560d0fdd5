"""``EmulatorServer.reset`` puts back the world it started with, faults included."""

from __future__ import annotations

from taskcancel import Task
from taskcancel.testing import EmulatorServer
from taskcancel.worldfile import Faults

RUNNING = Task(
    task_id="t-hardening0000000001",
    region_id="cn-hangzhou",
    action="ImportImage",
    status="Processing",
)


def test_reset_restores_the_faults_the_server_started_with() -> None:
    with EmulatorServer([RUNNING], faults=Faults(latency_ms=5)) as server:
        server.set_faults(throttle_rate=1.0)
        server.reset()
        assert server.faults == Faults(latency_ms=5)
