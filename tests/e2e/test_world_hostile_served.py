"""Hostile world files through the real ``serve`` command: exit 2, one printable line, no
traceback, and an id with a newline cannot forge the banner.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from support.hostile import HOSTILE, TASK
from support.serve import clean_env, start_serve, stop_serve, taskcancel_command

from taskcancel.worldfile import printable


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
