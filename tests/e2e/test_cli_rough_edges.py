"""Rough edges of the ``taskcancel`` command seen from a shell (real processes)."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from taskcancel.testing import ServeProcess, clean_env

CLIENT_COMMANDS = {
    "cancel": ["cancel", "--region", "cn-hangzhou", "--task", "t-1"],
    "describe": ["describe", "--region", "cn-hangzhou"],
    "state": ["state"],
    "reset": ["reset"],
    "requests": ["requests"],
}


@pytest.fixture
def silent_endpoint() -> Iterator[socket.socket]:
    """A listening socket that accepts and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        yield listener


@pytest.mark.parametrize("command", sorted(CLIENT_COMMANDS))
def test_ctrl_c_on_a_client_command_is_one_line_and_exit_130(
    command: str, silent_endpoint: socket.socket
) -> None:
    port = silent_endpoint.getsockname()[1]
    argv = [*CLIENT_COMMANDS[command], "--endpoint", f"http://127.0.0.1:{port}", "--timeout", "60"]
    env = clean_env(ALIBABA_CLOUD_ACCESS_KEY_ID="testid", ALIBABA_CLOUD_ACCESS_KEY_SECRET="x")
    process = subprocess.Popen(
        [sys.executable, "-m", "taskcancel", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        connection, _ = silent_endpoint.accept()  # it is waiting for an answer now
        with connection:
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=30)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 130, stderr
    assert stderr.splitlines() == [f"taskcancel: {command}: interrupted"]
    assert stdout == ""


def _banner_line(served: ServeProcess, prefix: str) -> str:
    return next(line for line in served.banner if line.startswith(prefix))


def test_the_banner_names_the_variable_that_turned_the_control_plane_off() -> None:
    with ServeProcess(["--port", "0"], env=clean_env(TASKCANCEL_NO_CONTROL="1")) as served:
        assert (
            _banner_line(served, "control plane:") == "control plane: off (TASKCANCEL_NO_CONTROL)"
        )


def test_an_empty_no_control_variable_stops_serve_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env=clean_env(TASKCANCEL_NO_CONTROL=""),
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "taskcancel: error: TASKCANCEL_NO_CONTROL='': must be 1/true/yes/on or 0/false/no/off"
    ]


def test_on_every_address_the_banner_shows_a_client_endpoint_it_can_reach() -> None:
    with ServeProcess(["--port", "0", "--host", "0.0.0.0"]) as served:
        port = served.endpoint.rsplit(":", 1)[1]
        assert f"--endpoint http://127.0.0.1:{port} " in _banner_line(served, "try: ")
        assert "0.0.0.0" not in _banner_line(served, "try: ")
        assert _banner_line(served, "shell: ") == (
            f"shell: export TASKCANCEL_ENDPOINT=http://127.0.0.1:{port}"
        )


def test_in_a_terminal_listening_on_is_printed_once() -> None:
    primary, secondary = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "taskcancel", "serve", "--port", "0"],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary,
        env=clean_env(PYTHONUNBUFFERED="1"),
    )
    os.close(secondary)
    seen = b""
    try:
        # Both the banner and the log's start-up line (it names the version) are out.
        while not (b"listening on" in seen and b"(taskcancel " in seen):
            ready, _, _ = select.select([primary], [], [], 30)
            assert ready, seen.decode(errors="replace")
            seen += os.read(primary, 4096)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        os.close(primary)
    text = seen.decode()
    assert text.count("listening on") == 1, text
