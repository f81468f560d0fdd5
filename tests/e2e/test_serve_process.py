"""``taskcancel.testing.ServeProcess``: ``taskcancel serve`` as a real subprocess."""

from __future__ import annotations

import json
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from taskcancel.testing import PROXY_VARIABLES, ServeProcess, clean_env

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="signals are POSIX")

QUIET = ["--port", "0", "--log-level", "warning"]

# A stand-in for serve (``command=``): prints its environment as JSON, then the line.
ENV_PRINTER = [
    sys.executable,
    "-c",
    "import json, os, time\n"
    "print(json.dumps(dict(os.environ)))\n"
    "print('listening on http://127.0.0.1:9', flush=True)\n"
    "time.sleep(120)\n",
]


def _refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def test_it_starts_serve_and_its_endpoint_answers() -> None:
    with ServeProcess(QUIET) as served:
        assert served.process.poll() is None
        assert served.port != 0
        assert served.host == "127.0.0.1"
        assert served.netloc == f"127.0.0.1:{served.port}"
        assert served.endpoint == f"http://127.0.0.1:{served.port}"
        assert served.banner[-1] == f"listening on {served.endpoint}"
        assert served.banner[0].startswith("taskcancel emulator: ECS 2014-05-26")
        health = httpx.get(served.endpoint + "/_taskcancel/health", trust_env=False, timeout=10)
        assert health.status_code == 200
        assert health.json()["Status"] == "ready"
        assert served.command[:4] == [sys.executable, "-m", "taskcancel.cli", "serve"]


def test_leaving_the_block_stops_and_reaps_the_process() -> None:
    with ServeProcess(QUIET) as served:
        port = served.port
    assert served.process.returncode is not None
    assert served.process.stdout is not None and served.process.stdout.closed
    assert _refuses_connections(port)


def test_leaving_the_block_on_an_error_stops_the_process_too() -> None:
    with pytest.raises(LookupError, match="inside the block"), ServeProcess(QUIET) as served:
        raise LookupError("inside the block")
    assert served.process.returncode is not None
    assert _refuses_connections(served.port)


def test_stop_terminates_with_sigterm_and_reports_the_exit_status() -> None:
    served = ServeProcess(QUIET).start()
    status = served.stop()
    assert status == served.process.returncode
    assert status == 0  # serve stops gracefully on SIGTERM
    assert served.stop() == status  # a second stop is harmless


def test_send_signal_and_wait() -> None:
    with ServeProcess(QUIET) as served:
        served.send_signal(signal.SIGKILL)
        assert served.wait(timeout=30) == -signal.SIGKILL
        assert served.process.returncode == -signal.SIGKILL


def test_a_serve_that_refuses_to_start_raises_with_its_output(tmp_path: Path) -> None:
    world = tmp_path / "bad-world.json"
    world.write_text(json.dumps({"Tasks": [{"TaskId": "t-1", "TaskStatus": "Running"}]}))
    served = ServeProcess(["--port", "0", "--world", str(world)], log_path=tmp_path / "err.log")
    with pytest.raises(RuntimeError) as raised:
        served.start()
    message = str(raised.value)
    assert "taskcancel serve did not start (it exited with status 2)" in message
    assert str(world) in message  # serve's own error, naming the file ...
    assert "Tasks[0]" in message  # ... and the field
    assert served.process.returncode == 2
    assert str(world) in served.log_text()


def test_no_listening_line_within_the_timeout_stops_it_and_says_so() -> None:
    script = "import time\nprint('warming up', flush=True)\ntime.sleep(120)\n"
    served = ServeProcess(command=[sys.executable, "-c", script], timeout=0.5)
    with pytest.raises(RuntimeError) as raised:
        served.start()
    assert "no 'listening on' line within 0.5 s" in str(raised.value)
    assert "warming up" in str(raised.value)
    assert served.process.returncode == -signal.SIGTERM


def test_the_environment_has_no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.setenv(name, "http://127.0.0.1:1")
    monkeypatch.setenv("TASKCANCEL_TEST_MARKER", "kept")
    with ServeProcess(command=ENV_PRINTER) as served:
        env = json.loads(served.banner[0])
    assert not set(PROXY_VARIABLES) & set(env)
    assert env["TASKCANCEL_TEST_MARKER"] == "kept"
    assert env["PYTHONUNBUFFERED"] == "1"


def test_a_given_environment_is_used_as_the_whole_environment() -> None:
    given = {"PATH": "/usr/bin:/bin", "ONLY_THIS": "1"}
    with ServeProcess(command=ENV_PRINTER, env=given) as served:
        env = json.loads(served.banner[0])
    assert {k: v for k, v in env.items() if k not in {"LC_CTYPE", "__CF_USER_TEXT_ENCODING"}} == {
        **given,
        "PYTHONUNBUFFERED": "1",
    }


def test_clean_env_drops_the_proxy_variables_and_adds_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("all_proxy", "socks5://proxy.invalid:1080")
    monkeypatch.setenv("NO_PROXY", "localhost")  # not a proxy: kept
    env = clean_env(EXTRA="x")
    assert "HTTPS_PROXY" not in env and "all_proxy" not in env
    assert env["NO_PROXY"] == "localhost"
    assert env["EXTRA"] == "x"
    assert set(PROXY_VARIABLES) == {
        f"{scheme}_proxy".upper() if upper else f"{scheme}_proxy"
        for scheme in ("http", "https", "all")
        for upper in (True, False)
    }


def test_stderr_goes_to_a_temporary_log_kept_in_memory_after_stop() -> None:
    with ServeProcess(["--port", "0", "--log-level", "info"]) as served:
        reply = httpx.get(served.endpoint + "/", trust_env=False, timeout=10)
        log_path = served.log_path
        assert log_path is not None and log_path.exists()
    assert not log_path.exists()
    assert f"RequestId={reply.headers['x-acs-request-id']}" in served.log_text()


def test_a_given_log_path_is_kept(tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    with ServeProcess(["--port", "0", "--log-level", "info"], log_path=log_path) as served:
        reply = httpx.get(served.endpoint + "/", trust_env=False, timeout=10)
    request_id = reply.headers["x-acs-request-id"]
    assert f"RequestId={request_id}" in log_path.read_text(encoding="utf-8")
    assert served.log_text() == log_path.read_text(encoding="utf-8")


def test_before_start_there_is_no_endpoint_and_stop_does_nothing() -> None:
    served = ServeProcess(QUIET)
    with pytest.raises(RuntimeError, match="has not started"):
        _ = served.endpoint
    with pytest.raises(RuntimeError, match="has not started"):
        _ = served.process
    assert served.stop() is None
    assert served.log_text() == ""


def test_it_cannot_be_started_twice() -> None:
    with ServeProcess(QUIET) as served, pytest.raises(RuntimeError, match="already started"):
        served.start()


def test_args_must_be_a_sequence_of_words_not_one_string() -> None:
    with pytest.raises(TypeError, match="--port 0"):
        ServeProcess("--port 0")


def test_a_large_output_after_the_banner_never_blocks_the_server() -> None:
    # 1 MiB on stdout after the line, far beyond a pipe's buffer: the pump reads it all.
    chatty = [
        sys.executable,
        "-c",
        "import sys\n"
        "print('listening on http://127.0.0.1:9', flush=True)\n"
        "for _ in range(10_000):\n"
        "    print('x' * 100)\n"
        "sys.stdout.flush()\n",
    ]
    with ServeProcess(command=chatty) as served:
        assert served.wait(timeout=60) == 0  # would hang on a full pipe


def test_serve_process_is_the_launcher_of_the_suite_helpers() -> None:
    from support import serve as _serve

    assert issubclass(_serve.ServedEmulator, ServeProcess)
    assert _serve.PROXY_VARIABLES is PROXY_VARIABLES
    assert _serve.clean_env is clean_env
