"""Fault rules through the pytest fixtures: ``ecs_emulator.set_faults(rules=...)`` applies
to the test that set them only, and a ``Probability`` rule draws the same in every test
(the fixtures' emulators are seeded and each reset rewinds the generator)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from taskcancel import wire
from taskcancel.testing import EmulatorServer, FaultRule

SEEN: dict[str, list[int]] = {}


def describe(server: EmulatorServer) -> int:
    out = wire.v1.build_request(
        "DescribeTasks",
        {"RegionId": "cn-hangzhou"},
        access_key_id=server.access_key_id,
        secret=server.access_key_secret,
        nonce=uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
    )
    with httpx.Client(base_url=server.endpoint, trust_env=False) as http:
        return http.request(out.method, out.target, headers=list(out.headers)).status_code


@pytest.mark.parametrize("run", ["a", "b", "a-again"])
def test_rules_set_in_a_test_stay_in_it_and_draw_the_same_each_time(
    ecs_emulator: EmulatorServer, run: str
) -> None:
    assert ecs_emulator.faults.rules == ()  # nothing of an earlier run
    assert ecs_emulator.ops.faults()["Rules"] == []
    coin = FaultRule(name="coin", action="DescribeTasks", probability=0.5, error="InternalError")
    ecs_emulator.set_faults(rules=[coin])
    statuses = [describe(ecs_emulator) for _ in range(16)]
    assert set(statuses) == {200, 500}
    counts = ecs_emulator.ops.faults()["Rules"][0]
    assert (counts["Matched"], counts["Fired"]) == (16, statuses.count(500))
    SEEN[run] = statuses
    assert all(seen == statuses for seen in SEEN.values())
