"""Under hostile load, over real HTTP: a SQLite write lock held elsewhere, a nonce flood.

A write lock held by another connection (``BEGIN IMMEDIATE``, as another process would)
must hold up only the requests that write: everything else is answered while a cancel
waits, because the event loop never runs SQLite (``Emulator.blocking``). Past the busy
timeout the cancel is a clean ``ServiceUnavailable`` 503 with a retry hint, and nothing is
half-written. An account that fills its nonce registry inside the replay window is
throttled rather than any of its nonces forgotten, so no captured request replays.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.serve import fresh_id, start_serve, stop_serve, write_world

from taskcancel import DEFAULT_POLICY, CancelRequest, Decision, Policy, SqliteStore, Task, wire
from taskcancel._store.sqlite import is_busy
from taskcancel.testing import EmulatorServer, FakeClock

REGION = "cn-hangzhou"
ACCOUNTS = {"testid": "testsecret", "other": "othersecret"}
TASKS = [f"t-lock-{n}" for n in range(3)]

Answer = tuple[int, dict[str, str], dict[str, Any]]


# -- raw HTTP: a request on its own connection, answered or not yet ----------------------


def signed(
    action: str, params: dict[str, str], *, at: Any = None, secret: str = "testsecret", **kw: Any
) -> wire.OutgoingRequest:
    """A V1-signed request of account ``testid`` (or ``access_key_id=``), stamped ``at``."""
    return wire.v1.build_request(
        action,
        {"RegionId": REGION, **params},
        access_key_id=kw.pop("access_key_id", "testid"),
        secret=secret,
        nonce=kw.pop("nonce", uuid.uuid4().hex),
        timestamp=at if at is not None else datetime.now(UTC),
        **kw,
    )


def send(port: int, out: wire.OutgoingRequest | bytes) -> socket.socket:
    """Open a connection, write one request, return the socket (the answer not read)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    if isinstance(out, wire.OutgoingRequest):
        head = f"{out.method} {out.target} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in out.headers)
        out = f"{head}content-length: {len(out.body)}\r\n\r\n".encode() + out.body
    sock.sendall(out)
    return sock


def answered(sock: socket.socket) -> bool:
    """Whether any of the answer has arrived (without waiting)."""
    return bool(select.select([sock], [], [], 0)[0])


def answer(sock: socket.socket) -> Answer:
    """Read one whole answer (status, headers, JSON body) and close the connection."""
    with sock:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed without an answer: {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
        }
        while len(body) < int(headers.get("content-length", "0")):
            chunk = sock.recv(65536)
            assert chunk, "connection closed mid-answer"
            body += chunk
    return int(lines[0].split()[1]), headers, json.loads(body or b"null")


def call(port: int, out: wire.OutgoingRequest | bytes) -> Answer:
    return answer(send(port, out))


def status_of(port: int, task_id: str) -> str:
    status, _, body = call(port, signed("DescribeTasks", {"TaskIds": task_id}))
    assert status == 200, body
    return str(body["TaskSet"]["Task"][0]["TaskStatus"])


HEALTH = b"GET /_taskcancel/health HTTP/1.1\r\nhost: x\r\n\r\n"


# -- a real SQLite store, a lock held elsewhere --------------------------------------------


class WatchedStore(SqliteStore):
    """A real :class:`SqliteStore` that says when a write reaches it (and can hold it there)."""

    def __init__(self, path: Path, *, timeout: float) -> None:
        tasks = [
            Task(
                task_id=t,
                region_id=REGION,
                action="ImportImage",
                status="Processing",
                owner="testid",
            )
            for t in TASKS
        ]
        super().__init__(path, tasks, regions=[REGION], timeout=timeout)
        self.writing = threading.Event()
        self.go = threading.Event()
        self.go.set()

    def _arrived(self) -> None:
        self.writing.set()
        self.go.wait(30)

    def cancel(
        self,
        request: CancelRequest,
        *,
        account: str | None = None,
        policy: Policy = DEFAULT_POLICY,
        seen: Callable[[Decision], object] | None = None,
    ) -> Decision:
        self._arrived()
        return super().cancel(request, account=account, policy=policy, seen=seen)

    def add_tasks(self, tasks: Iterable[Task]) -> None:
        self._arrived()
        super().add_tasks(tasks)


@contextlib.contextmanager
def write_lock(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock on ``path`` from another connection, as another process."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        conn.close()


@contextlib.contextmanager
def watched_server(tmp_path: Path, *, busy: float) -> Iterator[tuple[int, WatchedStore]]:
    """An emulator over a WatchedStore that waits ``busy`` seconds for the write lock."""
    store = WatchedStore(tmp_path / "store.db", timeout=busy)
    try:
        with EmulatorServer(store=store, accounts=ACCOUNTS) as server:
            yield server.port, store
    finally:
        store.go.set()
        store.close()


def test_a_cancel_waiting_for_the_write_lock_holds_up_nothing_else(tmp_path: Path) -> None:
    with watched_server(tmp_path, busy=60) as (port, store):
        with write_lock(Path(store.path)):
            cancel = send(port, signed("CancelTask", {"TaskId": TASKS[0]}))
            assert store.writing.wait(10)
            # Touching no store: the control plane's health, a bad signature.
            assert call(port, HEALTH)[0] == 200
            bad = call(port, signed("CancelTask", {"TaskId": TASKS[1]}, secret="wrong"))
            assert (bad[0], bad[2]["Code"]) == (400, "SignatureDoesNotMatch")
            # Reads go on under WAL while the write lock is held.
            assert status_of(port, TASKS[0]) == "Processing"
            attribute = call(port, signed("DescribeTaskAttribute", {"TaskId": TASKS[0]}))
            assert (attribute[0], attribute[2]["TaskId"]) == (200, TASKS[0])
            other = signed("DescribeTasks", {}, access_key_id="other", secret="othersecret")
            assert call(port, other)[2]["TotalCount"] == 0
            assert not answered(cancel)  # still waiting for the lock
        assert answer(cancel)[0] == 200  # the lock released: the cancel goes through
        assert status_of(port, TASKS[0]) == "Deleted"


def test_a_cancel_past_the_busy_timeout_is_a_clean_retryable_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskcancel")
    with watched_server(tmp_path, busy=0.2) as (port, store):
        store.go.clear()
        with write_lock(Path(store.path)):
            cancel = send(port, signed("CancelTask", {"TaskId": TASKS[0]}))
            assert store.writing.wait(10)
            assert call(port, HEALTH)[0] == 200  # the loop is free while the cancel is held
            assert not answered(cancel)
            store.go.set()  # on to SQLite's busy wait, which runs out
            status, headers, body = answer(cancel)
            assert (status, body["Code"]) == (503, "ServiceUnavailable"), body
            assert {"RequestId", "HostId", "Message"} <= body.keys()
            assert headers["x-acs-request-id"] == body["RequestId"]
            assert (headers["x-acs-retry-after"], headers["retry-after"]) == ("1000", "1")
            assert status_of(port, TASKS[0]) == "Processing"  # nothing half-written
        logged = [r for r in caplog.records if body["RequestId"] in r.getMessage()]
        assert [(r.levelno, r.exc_info) for r in logged] == [(logging.WARNING, None)]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        with contextlib.closing(sqlite3.connect(store.path)) as conn:
            query = "SELECT status FROM tasks WHERE task_id = ?"
            assert conn.execute(query, (TASKS[0],)).fetchone() == ("Processing",)
        assert call(port, signed("CancelTask", {"TaskId": TASKS[0]}))[0] == 200  # the retry
        assert status_of(port, TASKS[0]) == "Deleted"


def test_a_control_plane_write_past_the_busy_timeout_is_a_clean_503(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taskcancel")
    task = {"TaskId": "t-new", "TaskAction": "ImportImage", "TaskStatus": "Processing"}
    body = json.dumps({"Tasks": [{**task, "RegionId": REGION}]}).encode()
    post = (
        b"POST /_taskcancel/tasks HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    with watched_server(tmp_path, busy=0.2) as (port, store):
        store.go.clear()
        with write_lock(Path(store.path)):
            waiting = send(port, post)
            assert store.writing.wait(10)
            assert call(port, HEALTH)[0] == 200  # the loop is free while the write is held
            assert not answered(waiting)
            store.go.set()
            status, headers, refused = answer(waiting)
            assert (status, refused["Code"]) == (503, "ServiceUnavailable"), refused
            assert headers["retry-after"] == "1"  # a hint, as on the ECS path
        logged = [r for r in caplog.records if "locked" in r.getMessage()]
        assert [(r.levelno, r.exc_info) for r in logged] == [(logging.WARNING, None)]
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert store.get_task(REGION, "t-new", account=None) is None  # nothing half-written
        assert call(port, post)[0] == 201


def test_many_cancels_waiting_for_the_lock_hold_up_nothing_else(tmp_path: Path) -> None:
    with watched_server(tmp_path, busy=60) as (port, store):
        with write_lock(Path(store.path)):
            waiting = [send(port, signed("CancelTask", {"TaskId": TASKS[0]})) for _ in range(40)]
            health = send(port, HEALTH)
            health.settimeout(5)
            try:
                assert answer(health)[0] == 200
            finally:
                health.close()
                assert not any(answered(sock) for sock in waiting)
        for sock in waiting:
            answer(sock)


def test_serve_store_answers_others_while_a_cancel_waits_for_the_lock(tmp_path: Path) -> None:
    """The real ``taskcancel serve --store`` process, its SQLite file locked by this one."""
    world, db = write_world(tmp_path / "world.json"), tmp_path / "store.db"
    served = start_serve(
        ["--port", "0", "--world", str(world), "--store", str(db)], log_path=tmp_path / "log"
    )
    try:
        port, task_id = served.port, fresh_id(0)
        with write_lock(db):
            cancel = send(port, signed("CancelTask", {"TaskId": task_id}))
            assert call(port, HEALTH)[0] == 200
            assert status_of(port, task_id) == "Processing"
            assert not answered(cancel)
        assert answer(cancel)[0] == 200
        assert status_of(port, task_id) == "Deleted"
    finally:
        stop_serve(served.process)
    assert "Traceback" not in served.log_text()


def test_serve_store_timeout_bounds_the_wait_with_a_retryable_503(tmp_path: Path) -> None:
    """``serve --store-timeout`` (5 s by default, below the SDKs' 10 s read timeout): past
    it a cancel is refused, retryably, and nothing is written; a retry then succeeds."""
    world, db = write_world(tmp_path / "world.json"), tmp_path / "store.db"
    served = start_serve(
        ["--port", "0", "--world", str(world), "--store", str(db), "--store-timeout", "0.3"],
        log_path=tmp_path / "log",
    )
    try:
        port, task_id = served.port, fresh_id(0)
        with write_lock(db):
            status, headers, body = answer(send(port, signed("CancelTask", {"TaskId": task_id})))
            assert (status, body["Code"]) == (503, "ServiceUnavailable")
            assert headers["retry-after"] == "1"
            assert status_of(port, task_id) == "Processing"
        assert call(port, signed("CancelTask", {"TaskId": task_id}))[0] == 200
    finally:
        stop_serve(served.process)
    assert "Traceback" not in served.log_text()


# -- item 4: a flood of one's own nonces -------------------------------------------------


def test_a_full_nonce_registry_throttles_its_account_and_never_forgets_a_nonce() -> None:
    clock = FakeClock()
    # The gateway's clock: timestamps and the replay window.
    with EmulatorServer(accounts=ACCOUNTS, nonce_capacity=3, gateway_clock=clock) as server:
        port, start = server.port, clock()

        def describe(**kw: Any) -> wire.OutgoingRequest:
            return signed("DescribeTasks", {}, at=clock(), **kw)

        captured = describe()
        assert call(port, captured)[0] == 200
        for _ in range(2):
            clock.advance(minutes=1)
            assert call(port, describe())[0] == 200
        # Full of nonces still inside the window (2 x 15 minutes): throttled, not forgotten.
        status, headers, body = call(port, describe())
        assert (status, body["Code"]) == (400, "Throttling.User")
        assert int(headers["x-acs-retry-after"]) == (30 - 2) * 60 * 1000 + 1
        replay = call(port, captured)
        assert (replay[0], replay[2]["Code"]) == (400, "SignatureNonceUsed")
        other = describe(access_key_id="other", secret="othersecret")
        assert call(port, other)[0] == 200  # another account is unaffected
        # The oldest nonce leaves the window: one request is accepted again, then full.
        clock.set(start + timedelta(minutes=30, seconds=1))
        assert call(port, describe())[0] == 200
        assert call(port, describe())[2]["Code"] == "Throttling.User"
        assert call(port, captured)[2]["Code"] == "InvalidTimeStamp.Expired"


def test_only_a_lock_held_elsewhere_counts_as_busy(tmp_path: Path) -> None:
    """A busy store is a retryable 503; any other SQLite failure (a full disk, a broken
    file) is an internal error, logged, not reported as "try again"."""
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError) as locked:
            other.execute("BEGIN IMMEDIATE")
        assert is_busy(locked.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        other.close()
    assert not is_busy(sqlite3.OperationalError("database or disk is full"))
    assert not is_busy(ValueError("locked"))


def test_writes_queued_behind_a_lock_get_the_budget_left_not_a_fresh_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Six cancels while a lock is held elsewhere, two writer threads: the later ones
    used to wait a whole busy timeout more per pair of earlier ones (the review saw 503s
    at 30, 60 and 90 s). A write that already waited its budget in the queue is now
    refused at once, without waiting on SQLite again."""
    caplog.set_level(logging.WARNING, logger="taskcancel")
    with watched_server(tmp_path, busy=0.3) as (port, store), write_lock(Path(store.path)):
        store.go.set()  # writes go straight on to SQLite's busy wait
        waiting = [send(port, signed("CancelTask", {"TaskId": TASKS[n % 3]})) for n in range(6)]
        answers = [answer(sock) for sock in waiting]
    assert [(a[0], a[2]["Code"]) for a in answers] == [(503, "ServiceUnavailable")] * 6
    queued = [r for r in caplog.records if "queued past" in r.getMessage()]
    assert len(queued) >= 2  # answered from the queue, not after another busy wait
