"""The banner ``taskcancel serve`` prints: its example call works for the account it names."""

from __future__ import annotations

import json
from pathlib import Path

from taskcancel.testing import ServeProcess


def test_the_banner_example_uses_a_task_of_the_printed_account(tmp_path: Path) -> None:
    world = {
        "Accounts": [
            {"AccessKeyId": "alice", "AccessKeySecret": "a-secret"},
            {"AccessKeyId": "bob", "AccessKeySecret": "b-secret"},
        ],
        "Tasks": [
            {"TaskId": "t-bob", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
             "TaskStatus": "Processing", "AccessKeyId": "bob"},
            {"TaskId": "t-alice", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
             "TaskStatus": "Processing", "AccessKeyId": "alice"},
        ],
    }  # fmt: skip
    path = tmp_path / "world.json"
    path.write_text(json.dumps(world))
    with ServeProcess(["--port", "0", "--world", str(path)]) as served:
        (example,) = [line for line in served.banner if line.startswith("try: ")]
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID=alice" in example
    assert example.endswith("--task t-alice")
