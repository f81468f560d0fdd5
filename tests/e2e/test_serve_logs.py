"""``taskcancel serve``'s logs, read from the real process's stderr.

One line per request with the ``RequestId`` the client saw (ECS and control plane), in
text or JSON; every stderr line one JSON object with ``--log-format json``; parameters
at debug with every secret redacted and no line broken by a CR/LF; no request line at
warning; no line lost when SIGTERM follows a burst.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from support.calls import (
    HANGZHOU,
    SECRET,
    Reply,
    call,
    json_lines,
    json_request_lines,
    run_serve,
    serve_env,
    text_request_lines,
)

from taskcancel.testing import ServeProcess

FORMATS = ("text", "json")


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def _serve(tmp_path: Path, *flags: str) -> ServeProcess:
    return ServeProcess(
        ["--port", "0", *flags], env=serve_env(), log_path=tmp_path / "serve.log"
    ).start()


def _stopped_log(served: ServeProcess, *, sig: int | None = None) -> str:
    if sig is not None:
        served.send_signal(sig)
    assert served.stop() == 0
    log = served.log_text()
    assert "Traceback" not in log
    return log


def _requests(log: str, fmt: str) -> dict[str, dict[str, Any]]:
    if fmt == "json":
        return json_request_lines(log)
    return dict(text_request_lines(log))


def _mixed_calls(http: httpx.Client, endpoint: str) -> list[tuple[Reply | str, dict[str, Any]]]:
    """Calls of every kind, each with the fields its log line must carry."""
    cancel = {"RegionId": HANGZHOU, "TaskId": "t-demo-importimage-processing"}
    finished = {"RegionId": HANGZHOU, "TaskId": "t-demo-importimage-finished"}
    calls: list[tuple[Reply | str, dict[str, Any]]] = []
    reply = call(http, endpoint, "CancelTask", cancel)
    calls.append((reply, {**cancel, "Action": "CancelTask", "Code": "OK", "Status": 200}))
    reply = call(http, endpoint, "CancelTask", finished, scheme="acs3")
    expected = {**finished, "Action": "CancelTask", "Code": "IncorrectTaskStatus", "Status": 403}
    calls.append((reply, expected))
    reply = call(http, endpoint, "DescribeTasks", {"RegionId": HANGZHOU}, scheme="acs3")
    calls.append((reply, {"RegionId": HANGZHOU, "Action": "DescribeTasks", "Code": "OK"}))
    reply = call(http, endpoint, "CancelTask", cancel, secret="wrong")
    calls.append((reply, {"Action": "CancelTask", "Code": "SignatureDoesNotMatch"}))
    health = http.get(endpoint + "/_taskcancel/health")
    control = {"Method": "GET", "Path": "/_taskcancel/health", "Code": "OK", "Status": 200}
    calls.append((health.headers["x-acs-request-id"], control))
    return calls


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_line_per_request_with_the_request_id_the_client_saw(
    tmp_path: Path, http: httpx.Client, fmt: str
) -> None:
    served = _serve(tmp_path, "--log-format", fmt)
    calls = _mixed_calls(http, served.endpoint)
    log = _stopped_log(served)
    lines = _requests(log, fmt)
    assert len(lines) == len(calls)
    for reply, expected in calls:
        request_id = reply.request_id if isinstance(reply, Reply) else reply
        line = lines[request_id]
        if isinstance(reply, Reply):
            assert line["AccessKeyId"] == "testid"
            assert int(line["Status"]) == reply.status
            assert "TaskId" in line or "TaskId" not in expected  # only when present
        for name, value in expected.items():
            assert str(line[name]) == str(value), (name, line)
        assert float(line["LatencyMs"]) >= 0


def test_every_json_stderr_line_is_an_object_startup_and_shutdown_included(
    tmp_path: Path, http: httpx.Client
) -> None:
    served = _serve(tmp_path, "--log-format", "json")
    call(http, served.endpoint, "DescribeTasks", {"RegionId": HANGZHOU})
    entries = json_lines(_stopped_log(served, sig=2))  # SIGINT
    messages = [entry.get("message", "") for entry in entries]
    assert messages[0].startswith(f"listening on {served.endpoint} ")
    assert messages[-2:] == ["stopping (SIGINT)", "stopped"]
    assert all({"time", "level", "logger"} <= entry.keys() for entry in entries)
    assert [entry["logger"] for entry in entries].count("taskcancel.request") == 1


def test_text_startup_and_shutdown_lines_share_the_request_lines_shape(tmp_path: Path) -> None:
    served = _serve(tmp_path)
    lines = _stopped_log(served).splitlines()
    assert lines[0].endswith(f" INFO taskcancel.serve: listening on {served.endpoint} "
                             "(taskcancel 0.1.0, profile 2017, memory store)")  # fmt: skip
    assert lines[1].endswith(" INFO taskcancel.server: stopping (SIGTERM)")
    assert lines[2].endswith(" INFO taskcancel.serve: stopped")


_FORGED = "t-x\r\n2026-01-01T00:00:00.000Z INFO request RequestId=FORGED Action=CancelTask"
_TOKEN = "sts-token-never-logged"


@pytest.mark.parametrize("fmt", FORMATS)
def test_debug_adds_parameters_with_every_secret_redacted_on_one_line(
    tmp_path: Path, http: httpx.Client, fmt: str
) -> None:
    served = _serve(tmp_path, "--log-level", "debug", "--log-format", fmt)
    params = {"RegionId": HANGZHOU, "TaskId": _FORGED}
    v1 = call(http, served.endpoint, "CancelTask", params, security_token=_TOKEN)
    acs3 = call(http, served.endpoint, "CancelTask", params, scheme="acs3", security_token=_TOKEN)
    replies = [v1, acs3]
    log = _stopped_log(served)
    signature = parse_qs(urlsplit(v1.request.target).query)["Signature"][0]
    authorization = {k.lower(): v for k, v in acs3.request.headers}["authorization"]
    for secret in (SECRET, _TOKEN, signature, authorization.rsplit("Signature=", 1)[1]):
        assert secret not in log
    assert "FORGED" not in "".join(line[:40] for line in log.splitlines())  # never a line start
    assert len(log.splitlines()) == 3 + len(replies)  # listening, requests, stopping, stopped
    lines = _requests(log, fmt)
    for reply in replies:
        line = lines[reply.request_id]
        assert line["Code"] == "InvalidTaskId.NotFound"
        logged = line["Params"] if fmt == "json" else json.loads(line["Params"])
        assert logged["TaskId"] == _FORGED  # the CR/LF is escaped, not lost
        assert logged.get("Signature", "***") == "***"
        assert logged.get("SecurityToken", "***") == "***"
        assert line["TaskId"] == _FORGED
    if fmt == "text":
        assert ' TaskId="t-x\\r\\n2026-01-01T00:00:00.000Z INFO request RequestId=FORGED ' in log


def test_warning_prints_no_request_lines(tmp_path: Path, http: httpx.Client) -> None:
    served = _serve(tmp_path, "--log-level", "warning")
    call(http, served.endpoint, "DescribeTasks", {"RegionId": HANGZHOU})
    http.get(served.endpoint + "/_taskcancel/health")
    assert _stopped_log(served) == ""


def test_a_bad_log_setting_is_refused() -> None:
    result = run_serve("--port", "0", "--log-format", "yaml", env=serve_env())
    assert result.returncode == 2 and "'yaml': must be one of text, json" in result.stderr


def _burst(endpoint: str, threads: int, each: int) -> list[str]:
    """``threads`` clients, each making ``each`` calls on its keep-alive connection."""
    seen: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=30, trust_env=False) as http:
            for n in range(each):
                params = {"RegionId": HANGZHOU, "TaskId": f"t-burst-{n}"}
                reply = call(http, endpoint, "DescribeTaskAttribute", params)
                with lock:
                    seen.append(reply.request_id)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return seen


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_no_line_is_lost_when_sigterm_follows_a_burst(tmp_path: Path, store: str) -> None:
    flags = ["--store", str(tmp_path / "state.db")] if store == "sqlite" else []
    served = _serve(tmp_path, *flags)
    seen = _burst(served.endpoint, threads=4, each=60)
    log = _stopped_log(served, sig=15)  # right after the last answer
    lines = text_request_lines(log)
    assert len(seen) == 240
    assert set(seen) == set(lines)


def test_pipelined_requests_queued_when_sigterm_comes_are_answered_and_logged(
    tmp_path: Path,
) -> None:
    """With --store each answer is made in a worker thread, one at a time: the signal
    finds requests read but not answered; the stop answers them, and each has its line."""
    served = _serve(tmp_path, "--store", str(tmp_path / "state.db"))
    count = 50
    request = f"GET /_taskcancel/health HTTP/1.1\r\nHost: {served.netloc}\r\n\r\n".encode()
    with socket.create_connection((served.host, served.port), timeout=10) as sock:
        sock.sendall(request * count)  # one segment: read at once, queued together
        received = sock.recv(65536)  # the first answer: all of them were read
        served.send_signal(15)
        # A reset after the last answer would only lose what it had not sent.
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    answered = [
        line.split(b":", 1)[1].strip().decode()
        for line in received.split(b"\r\n")
        if line.lower().startswith(b"x-acs-request-id:")
    ]
    log = _stopped_log(served)
    assert len(answered) == count
    assert set(answered) == set(text_request_lines(log))


def test_latency_is_logged_below_the_millisecond() -> None:
    """uvloop's loop clock counts whole milliseconds: latency is measured with
    ``time.perf_counter`` instead, so a fast answer is not logged as 0.00 or 1.00."""
    with ServeProcess(["--port", "0"]) as served:
        for _ in range(20):
            httpx.get(f"{served.endpoint}/_taskcancel/health", timeout=10)
        deadline = time.monotonic() + 10
        while served.log_text().count("Path=/_taskcancel/health") < 20:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        values = [float(v) for v in re.findall(r"LatencyMs=([\d.]+)", served.log_text())]
    assert len(values) >= 20
    assert any(value != int(value) for value in values), values
