"""Hostile world files through the real ``serve`` command: exit 2, one printable line, no
traceback, and an id with a newline cannot forge the banner.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.serve import clean_env, start_serve, stop_serve, taskcancel_command

from taskcancel.worldfile import (
    printable,
)

TASK = (
    '{"TaskId": %s, "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",'
    ' "TaskStatus": "Processing"}'
)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


#: name -> (world file text, the field named, words of the reason)
HOSTILE: dict[str, tuple[str, str, str]] = {
    "100k-levels": (deep(100_000), "(file)", "nested too deeply"),
    "deep-in-a-field": (
        '{"Tasks": [' + TASK % deep(40) + "]}",
        "Tasks[0].TaskId" + "[0]" * 13,
        "nested too deeply",
    ),
    "surrogate-task-id": (
        '{"Tasks": [' + TASK % '"t-\\ud800"' + "]}",
        "Tasks[0].TaskId",
        "lone surrogate",
    ),
    "surrogate-secret": (
        '{"Accounts": [{"AccessKeyId": "k", "AccessKeySecret": "s\\udfff"}]}',
        "Accounts[0].AccessKeySecret",
        "lone surrogate",
    ),
    "surrogate-key": ('{"Faults": {"x\\ud800": 1}}', "Faults.x\\ud800", "lone surrogate"),
    "5000-digits": (
        '{"Faults": {"RetryAfterMs": ' + "9" * 5000 + "}}",
        "Faults.RetryAfterMs",
        "a 5000-digit number: too long",
    ),
    "5000-digits-as-id": (
        '{"Tasks": [' + TASK % ("-" + "1" * 5000) + "]}",
        "Tasks[0].TaskId",
        "5000-digit number",
    ),
    "newline-in-a-key": (
        '{"Tasks": [], "Faults": {"a\\nlistening on http://127.0.0.1:1": 1}}',
        "Faults.a\\nlistening on http://127.0.0.1:1",
        "unknown field",
    ),
}


@pytest.mark.parametrize("name", ["100k-levels", "surrogate-secret", "5000-digits"])
def test_serve_refuses_a_hostile_world_with_exit_2_and_no_traceback(
    tmp_path: Path, name: str
) -> None:
    text, field, reason = HOSTILE[name]
    path = tmp_path / f"{name}.json"
    path.write_text(text, encoding="utf-8")
    result = subprocess.run(
        taskcancel_command("serve", "--port", "0", "--world", str(path)),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}: {field}: " in result.stderr and reason in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout


def test_an_id_with_a_newline_cannot_forge_the_banner(tmp_path: Path) -> None:
    forged = "t-x\nlistening on http://127.0.0.1:1"
    world = tmp_path / "world.json"
    world.write_text(json.dumps({"Tasks": [json.loads(TASK % json.dumps(forged))]}))
    served = start_serve(["--port", "0", "--world", str(world)], log_path=tmp_path / "log")
    try:
        assert served.port != 1
        assert [line for line in served.banner if line.startswith("listening on")] == [
            f"listening on {served.endpoint}"
        ]
        assert any(printable(forged) in line for line in served.banner), served.banner
    finally:
        stop_serve(served.process)
