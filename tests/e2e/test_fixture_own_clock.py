"""A test module that brings its own ``ecs_clock`` gets an ``ecs_emulator`` of its own on it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskcancel.testing import EmulatorServer, FakeClock

OWN_START = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
def ecs_clock() -> FakeClock:
    return FakeClock(OWN_START)


def test_the_emulator_runs_on_the_tests_own_clock(
    ecs_emulator: EmulatorServer, ecs_clock: FakeClock
) -> None:
    assert ecs_emulator.ops.clock is ecs_clock
    assert ecs_emulator.ops.state()["Now"] == "2031-05-06T07:08:09Z"
    ecs_clock.advance(seconds=1)
    assert ecs_emulator.ops.state()["Now"] == "2031-05-06T07:08:10Z"
