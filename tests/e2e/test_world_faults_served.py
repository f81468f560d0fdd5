"""Faults from a world file reach a running emulator."""

from __future__ import annotations

from typing import Any

import pytest

from taskcancel import (
    ThrottlingError,
)
from taskcancel.testing import EmulatorServer
from taskcancel.worldfile import (
    parse_world,
)


def task(**fields: Any) -> dict[str, Any]:
    return {
        "TaskId": "t-1",
        "RegionId": "cn-hangzhou",
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        **fields,
    }


# ----------------------------------------------------------------------------- defaults


# ------------------------------------------------------------------------------ schedule


# -------------------------------------------------------------------------------- faults


def test_faults_from_a_world_file_reach_the_emulator(no_proxy_env: None) -> None:
    spec = parse_world({"Tasks": [task()], "Faults": {"ThrottleRate": 1.0, "RetryAfterMs": 750}})
    with (
        EmulatorServer(spec) as server,
        server.client() as client,
        pytest.raises(ThrottlingError) as caught,
    ):
        client.cancel_task("cn-hangzhou", "t-1")
    assert caught.value.retry_after_ms == 750


# ------------------------------------------------------------------------------ refusals


# ----------------------------------------------------------------------------- round trip
