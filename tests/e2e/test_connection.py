"""The connection layer as a hostile client meets it: raw sockets against a real server.

Regression tests for what the uvicorn-based layer got wrong: absolute-form and CONNECT
first requests went unanswered; a client that pipelines and never reads kept its
connection (and a slot under the cap) for good; SIGTERM hung with such clients and never
closed the store; SIGINT printed a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.serve import start_serve, stop_serve, write_world

from taskcancel import ApiError, Client, HttpTransport, TaskStatus
from taskcancel.testing import EmulatorServer, clean_env

REGION = "cn-hangzhou"


def _responses(sock: socket.socket) -> list[tuple[int, dict[str, str], bytes]]:
    """Every complete response until the server closes the connection."""
    data = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(65536):
            data += chunk
    out = []
    while b"\r\n\r\n" in data:
        head, _, data = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        out.append((int(lines[0].split()[1]), headers, data[:length]))
        data = data[length:]
    return out


def _send(port: int, data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        return _responses(sock)


@pytest.mark.parametrize(
    "first",
    [
        b"GET http://x HTTP/1.1\r\nhost: x\r\n\r\n",
        b"GET http://x/?Action=DescribeTasks HTTP/1.1\r\nhost: x\r\n\r\n",
        b"CONNECT example.com:443 HTTP/1.1\r\nhost: example.com:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nhost: x\r\n\r\n",
    ],
    ids=["absolute-no-path", "absolute-with-path", "connect", "asterisk"],
)
def test_a_target_that_is_not_a_path_gets_an_aliyun_400_then_close(first: bytes) -> None:
    with EmulatorServer() as server:
        (answer,) = _send(server.port, first + b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        status, headers, body = answer
        assert status == 400
        assert headers["connection"] == "close"
        document = json.loads(body)
        assert document["Code"] == "InvalidParameter.Format"
        assert set(document) >= {"RequestId", "HostId", "Code", "Message", "Recommend"}
        assert server.client().describe_tasks(REGION).total_count == 0  # still serving


def _flood(port: int) -> socket.socket:
    """A client that pipelines many requests and never reads an answer."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    request = b"GET /?Action=DescribeTasks HTTP/1.1\r\nhost: x\r\n\r\n"
    with contextlib.suppress(BlockingIOError, ConnectionResetError, BrokenPipeError):
        for _ in range(200):
            sock.send(request * 500)
    return sock


def test_a_client_that_stops_reading_is_cut_off_and_frees_its_slot() -> None:
    with EmulatorServer(request_timeout=1.0, max_connections=2) as server:
        floods = [_flood(server.port), _flood(server.port)]
        try:
            with (  # both slots are taken
                server.client(timeout=5) as client,
                pytest.raises(ApiError, match="ServiceUnavailable"),
            ):
                client.describe_tasks(REGION)
            # Clients that read nothing are cut off (reset) once their deadline passes.
            # Their sockets are not read here: a client that reads is served, not cut off.
            deadline = time.monotonic() + 30
            waiting = list(floods)
            while waiting:
                assert time.monotonic() < deadline, "the non-reading clients kept their slots"
                waiting = [sock for sock in waiting if not _was_reset(sock)]
                time.sleep(0.02)
            with server.client(timeout=5) as client:  # and their slots are free again
                client.describe_tasks(REGION)
        finally:
            for sock in floods:
                sock.close()


def _was_reset(sock: socket.socket) -> bool:
    """Whether the peer has reset ``sock`` (its pending error, which this clears)."""
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    assert error in (0, errno.ECONNRESET), os.strerror(error)
    return error == errno.ECONNRESET


def _world(path: Path) -> Path:
    tasks = [
        {
            "TaskId": f"t-sig{n}",
            "RegionId": REGION,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
        }
        for n in range(3)
    ]
    return write_world(path, {"Regions": [REGION], "Tasks": tasks})


@pytest.mark.parametrize(
    ("signum", "given"), [(signal.SIGTERM, "flag"), (signal.SIGINT, "variable")]
)
def test_a_signal_stops_gracefully_with_hostile_clients_and_keeps_the_store(
    tmp_path: Path, signum: signal.Signals, given: str
) -> None:
    """Clients that never take their answers hold a stop up for ``--shutdown-timeout``
    seconds (``TASKCANCEL_SHUTDOWN_TIMEOUT``; 5 by default), then they are cut off."""
    store = tmp_path / "state.sqlite"
    args = ["--port", "0", "--store", str(store), "--world", str(_world(tmp_path / "w.json"))]
    if given == "flag":
        args += ["--shutdown-timeout", "0.5"]
    served = start_serve(
        args,
        log_path=tmp_path / "stderr.log",
        env=clean_env(TASKCANCEL_SHUTDOWN_TIMEOUT="0.5" if given == "variable" else "60"),
    )
    try:
        transport = HttpTransport(
            served.endpoint, access_key_id="testid", access_key_secret="testsecret"
        )
        with Client(transport) as client:
            client.cancel_task(REGION, "t-sig1")
        floods = [_flood(served.port) for _ in range(3)]
        half = socket.create_connection(("127.0.0.1", served.port))
        half.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc")
        served.process.send_signal(signum)
        assert served.process.wait(timeout=30) == 0
        for sock in [*floods, half]:
            sock.close()
    finally:
        stop_serve(served.process)
    log = served.log_text()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log
    assert f"stopping ({signum.name})" in log
    assert re.search(r"stopping: \d+ connections cut off after 0\.5 s", log), log
    # A copy of the store file alone (no -wal beside it) has every acknowledged cancel.
    copy = tmp_path / "copy.sqlite"
    shutil.copyfile(store, copy)
    assert not Path(f"{store}-wal").exists() or Path(f"{store}-wal").stat().st_size == 0
    with sqlite3.connect(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    served = start_serve(["--port", "0", "--store", str(copy)], log_path=tmp_path / "stderr2.log")
    try:
        transport = HttpTransport(
            served.endpoint, access_key_id="testid", access_key_secret="testsecret"
        )
        with Client(transport) as client:
            assert client.describe_task_attribute(REGION, "t-sig1").status is TaskStatus.DELETED
            assert client.describe_task_attribute(REGION, "t-sig2").status is TaskStatus.PROCESSING
    finally:
        stop_serve(served.process)


def test_keep_alive_http_1_0_and_connection_close() -> None:
    with EmulatorServer() as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"  # kept alive
                b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
                b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"  # after close: never read
            )
            answers = _responses(sock)
        assert [a[0] for a in answers] == [400, 400]
        assert "connection" not in answers[0][1]
        assert answers[1][1]["connection"] == "close"
        answers = _send(server.port, b"GET / HTTP/1.0\r\n\r\n")
        assert len(answers) == 1 and answers[0][1]["connection"] == "close"
        answers = _send(
            server.port,
            b"GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n",
        )
        assert [a[1].get("connection") for a in answers] == ["keep-alive", "close"]


def test_expect_100_continue_is_answered_before_the_body() -> None:
    with EmulatorServer() as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.settimeout(10)
        sock.sendall(
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n"
            b"content-length: 9\r\nexpect: 100-continue\r\n\r\n"
        )
        assert sock.recv(64).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"Action=X&")
        sock.shutdown(socket.SHUT_WR)
        (answer,) = _responses(sock)
        assert answer[0] == 400 and json.loads(answer[2])["Code"] == "MissingVersion"


def test_an_oversized_declared_body_is_refused_before_it_is_sent() -> None:
    with EmulatorServer() as server:
        (answer,) = _send(
            server.port,
            b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 99999999\r\n"
            b"expect: 100-continue\r\n\r\n",
        )
        assert answer[0] == 413 and json.loads(answer[2])["Code"] == "RequestTooLarge"


def test_sigint_in_the_foreground_prints_no_traceback(tmp_path: Path) -> None:
    served = start_serve(["--port", "0"], log_path=tmp_path / "stderr.log")
    served.process.send_signal(signal.SIGINT)
    try:
        assert served.process.wait(timeout=30) == 0
    except subprocess.TimeoutExpired:
        stop_serve(served.process)
        raise
    assert "Traceback" not in served.log_text()


def test_an_unauthenticated_control_body_is_refused_before_it_is_read() -> None:
    """With a token, a world file's 8 MiB allowance is for admitted callers only: the
    token is checked when the head arrives, so nobody else can make the server buffer
    megabytes."""
    with EmulatorServer(control_token="s3cret") as server:
        head = b"PUT /_taskcancel/world HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n"
        (answer,) = _send(server.port, head + b"\r\n")
        assert answer[0] == 413 and json.loads(answer[2])["Code"] == "RequestTooLarge"
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                head + b"authorization: Bearer s3cret\r\ncontent-type: application/json\r\n\r\n"
            )
            sock.sendall(b"{" + b" " * 999_998 + b"}")
            sock.shutdown(socket.SHUT_WR)
            (answer,) = _responses(sock)
        assert answer[0] == 200  # read in full: an empty world, loaded


def test_closing_with_unread_input_ends_in_an_orderly_close_not_a_reset() -> None:
    """After its last answer the server reads and drops what the client still sends,
    then closes: the client sees the answer and then EOF. A plain close with unread
    input makes the kernel reset the connection instead, which can destroy an answer
    the client has not read yet."""
    with EmulatorServer() as server:
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                # Refused at once (not HTTP): the server stops reading, answers, closes.
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    sock.sendall(b"NOT HTTP AT ALL\r\n\r\n" + b"x" * 200_000)
                data = b""
                while b"}" not in data:
                    chunk = sock.recv(65536)
                    assert chunk, data
                    data += chunk
                assert data.startswith(b"HTTP/1.1 400 ")
                sock.shutdown(socket.SHUT_WR)  # the client is done too
                while chunk := sock.recv(65536):  # raises ConnectionResetError on a reset
                    pass


def test_server_run_in_the_foreground_stops_on_sigterm_without_a_traceback() -> None:
    """``taskcancel.server.run`` (for embedding) handles the signals as ``serve`` does."""
    code = (
        "import sys\n"
        "from taskcancel import MemoryStore\n"
        "from taskcancel.server import Server, bind_socket, create_app, run\n"
        "sock = bind_socket('127.0.0.1', 0)\n"
        "ready = lambda: print('ready', sock.getsockname()[1], flush=True)\n"
        "run(Server(create_app(MemoryStore())), sock, ready=ready)\n"
        "print('returned', flush=True)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("ready "), line
        assert _send(int(line.split()[1]), b"GET / HTTP/1.0\r\n\r\n")
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert out == "returned\n" and "Traceback" not in err


def test_a_head_request_gets_headers_and_no_body_so_keep_alive_framing_holds() -> None:
    with EmulatorServer() as server, socket.create_connection(("127.0.0.1", server.port)) as s:
        s.settimeout(10)
        s.sendall(
            b"HEAD / HTTP/1.1\r\nhost: x\r\n\r\n"
            b"GET /_taskcancel/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    first, _, rest = data.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 403 Forbidden\r\n")  # UnsupportedHTTPMethod
    assert b"content-length: " in first and int(first.split(b"content-length: ")[1].split()[0]) > 0
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n"), rest[:80]  # the next answer, not a body


def test_status_lines_carry_the_standard_reason_phrase() -> None:
    with EmulatorServer() as server:
        body = b'{"Tasks": []}'
        data = _raw(
            server.port,
            b"POST /_taskcancel/tasks HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json"
            b"\r\ncontent-length: %d\r\n\r\n%s"
            % (len(body), body)
            + b"DELETE /_taskcancel/state HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n",
        )
    assert data.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"HTTP/1.1 405 Method Not Allowed\r\n" in data


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def test_endless_chunked_trailers_are_refused_within_the_head_budget() -> None:
    """After the last chunk, trailers that never end once made memory grow without
    limit (nothing counted them): now everything in a body that is not body counts
    against the head budget, and trailers are never taken as headers."""
    with EmulatorServer() as server, socket.create_connection(("127.0.0.1", server.port)) as s:
        s.settimeout(10)
        s.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\n0\r\n")
        trailer = (b"x-t: " + b"a" * 200 + b"\r\n") * 1000
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            for _ in range(50):  # 10 MB, far past the budget
                s.sendall(trailer)
        (answer,) = _responses(s)
    assert answer[0] == 413 and json.loads(answer[2])["Code"] == "RequestTooLarge"
    assert "trailers" in json.loads(answer[2])["Message"]


def test_trailers_never_join_the_headers() -> None:
    with EmulatorServer(control_token="T0ken") as server:
        answers = _send(
            server.port,
            b"POST /_taskcancel/reset HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
            b"connection: close\r\n\r\n0\r\nauthorization: Bearer T0ken\r\n\r\n",
        )
    assert [a[0] for a in answers] == [403]  # the trailer's token is not a header


def test_an_upgrade_request_with_a_body_is_refused_not_smuggled() -> None:
    inner = b"GET /_taskcancel/health HTTP/1.1\r\nhost: inner\r\nconnection: close\r\n\r\n"
    with EmulatorServer() as server:
        answers = _send(
            server.port,
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: foo\r\n"
            b"content-length: %d\r\n\r\n" % len(inner) + inner,
        )
    # One answer, the refusal: the request is not carried out and its body never runs.
    assert [a[0] for a in answers] == [400]
    assert json.loads(answers[0][2])["Code"] == "InvalidParameter.Format"


def test_100_continue_is_not_sent_for_a_request_that_is_refused() -> None:
    with EmulatorServer() as server:
        (answer,) = _send(
            server.port,
            b"POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\n"
            b"content-length: 5000000\r\n\r\n",
        )
    assert answer[0] == 413  # and no 100 Continue before it (it would be parsed first)
