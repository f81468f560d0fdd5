"""Answering on one connection (fake transport): arrival order whatever the app does,
reading paused and resumed, the shared budget of held bytes, wire faults, long-polls."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from support.fakes import FakeApp, ManualLoop, connect, get, ok, shared_set

from taskcancel.server._connection import _MAX_QUEUED
from taskcancel.server._request import Answer, Deferred, Pending, RawRequest


def _drain(client: object) -> None:
    pool, loop = client.pool, client.loop  # type: ignore[attr-defined]
    while pool.waiting:
        pool.run_next()
        loop.run_ready()


def test_answers_made_in_worker_threads_keep_arrival_order() -> None:
    client = connect(FakeApp(blocking=True))
    client.send(get("/a") + get("/b") + get("/c"))
    assert len(client.pool.waiting) == 1  # one at a time
    _drain(client)
    assert [r.body for r in client.answers()] == [b"/a", b"/b", b"/c"]


def test_reading_pauses_at_the_queue_limit_and_resumes_once_it_drains() -> None:
    client = connect(FakeApp(blocking=True))
    client.send(b"".join(get(f"/{i}") for i in range(40)))
    assert not client.transport.reading
    _drain(client)
    assert client.transport.reading
    client.send(b"".join(get(f"/{i}") for i in range(40, 50)))
    _drain(client)
    assert [r.body for r in client.answers()] == [f"/{i}".encode() for i in range(50)]


def test_reading_resumes_after_injected_latency_drains_the_queue() -> None:
    app = FakeApp(script=lambda request: ok(request.target, delay=0.3))
    client = connect(app)
    client.send(b"".join(get(f"/{i}") for i in range(_MAX_QUEUED + 8)))
    assert not client.transport.reading
    client.loop.advance(0.3 * (_MAX_QUEUED + 8) + 0.1)
    assert client.transport.reading
    assert len(client.answers()) == _MAX_QUEUED + 8


def test_a_client_not_reading_pauses_reading_until_it_reads_again() -> None:
    client = connect()
    client.transport.stop_reading()
    assert not client.transport.reading
    client.send(get("/a"))
    assert client.answers() == []
    client.transport.start_reading()
    assert client.transport.reading
    assert [r.body for r in client.answers()] == [b"/a"]


def test_over_the_shared_budget_the_connection_holding_most_stops_being_read() -> None:
    app = FakeApp(blocking=True)
    loop = ManualLoop()
    shared = shared_set(app, max_held_bytes=4000)
    big = connect(app, loop=loop, shared=shared)
    small = connect(app, loop=loop, shared=shared)
    small.send(get("/s", extra="X-Pad: " + "p" * 300 + "\r\n"))
    big.send(b"".join(get(f"/b{i}", extra="X-Pad: " + "p" * 500 + "\r\n") for i in range(12)))
    assert not big.transport.reading
    assert small.transport.reading
    _drain(big)
    assert shared[0].held == 0
    assert big.transport.reading
    assert len(big.answers()) == 12 and len(small.answers()) == 1


def test_held_bytes_are_given_back_when_a_connection_is_lost() -> None:
    app = FakeApp(blocking=True)
    client = connect(app)
    client.send(get("/a") + get("/b"))
    assert client.shared.held > 0
    client.connection.connection_lost(None)
    assert client.shared.held == 0


# -- wire faults ---------------------------------------------------------------------------


def _faulty(fault: str, stall: float = 0.0) -> FakeApp:
    def script(request: RawRequest) -> Answer:
        if request.target == b"/fault":
            return ok(b"0123456789" * 10, fault=fault, stall_seconds=stall)
        return ok(request.target)

    return FakeApp(script=script)


@pytest.mark.parametrize("fault", ["reset", "reset-after"])
def test_a_reset_fault_aborts_the_connection_without_a_byte(fault: str) -> None:
    client = connect(_faulty(fault))
    client.send(get("/a") + get("/fault") + get("/after"))
    assert [r.body for r in client.answers()] == [b"/a"]
    assert client.transport.aborted
    assert [r.target for r in client.connection.app.seen] == [b"/a", b"/fault"]  # type: ignore[attr-defined]


def test_a_stall_fault_sends_nothing_for_its_seconds_then_closes() -> None:
    client = connect(_faulty("stall", stall=7.0))
    client.send(get("/fault") + get("/after"))
    client.loop.advance(6.9)
    assert client.transport.written == b"" and not client.transport.closed
    client.loop.advance(0.2)
    assert client.transport.closed and client.transport.written == b""


def test_a_stalled_connection_does_not_hold_up_stopping() -> None:
    client = connect(_faulty("stall", stall=600.0))
    client.send(get("/fault"))
    client.connection.shutdown()
    assert client.transport.closed and client.transport.written == b""


def test_a_truncate_fault_sends_the_head_and_part_of_the_body_then_eof() -> None:
    client = connect(_faulty("truncate"))
    client.send(get("/fault") + get("/after"))
    data = client.transport.take()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert b"content-length: 100" in head
    assert 0 < len(body) < 100 and b"0123456789".startswith(body[:10])
    assert client.transport.eof


# -- long-polls ----------------------------------------------------------------------------


class _Poll:
    """A long-poll whose answer is set by the test (from any thread)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.answer: Answer | None = None
        self.wakes: list[Callable[[], None]] = []
        self.unsubscribed = 0
        self.deferred = Deferred(self.poll, self.expire, self.subscribe, timeout)

    def poll(self) -> Answer | None:
        return self.answer

    def expire(self) -> Answer:
        return ok(b"expired")

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        self.wakes.append(wake)

        def unsubscribe() -> None:
            self.unsubscribed += 1
            self.wakes.remove(wake)

        return unsubscribe

    def ready(self, body: bytes) -> None:
        self.answer = ok(body)
        for wake in list(self.wakes):
            wake()


def _long_poll_app(poll: _Poll, *, blocking: bool = False) -> FakeApp:
    def script(request: RawRequest) -> Answer | Pending | Deferred:
        if request.target == b"/poll":
            if blocking:
                return Pending(lambda: poll.deferred, writes=False, offload=True)
            return poll.deferred
        return ok(request.target)

    return FakeApp(script=script, blocking=blocking)


def test_a_long_poll_woken_from_another_thread_answers_in_arrival_order() -> None:
    poll = _Poll()
    client = connect(_long_poll_app(poll))
    client.send(get("/poll") + get("/after"))
    assert client.answers() == [] and len(poll.wakes) == 1
    thread = threading.Thread(target=poll.ready, args=(b"news",))
    thread.start()
    thread.join()
    assert client.answers() == []  # woken on the loop, not in the waking thread
    client.loop.run_ready()
    assert [r.body for r in client.answers()] == [b"news", b"/after"]
    assert poll.unsubscribed == 1 and client.loop.pending() == [5.0]  # only the idle timer


def test_a_long_poll_expires_after_its_timeout() -> None:
    poll = _Poll(timeout=10.0)
    client = connect(_long_poll_app(poll))
    client.send(get("/poll"))
    client.loop.advance(9.9)
    assert client.answers() == []
    client.loop.advance(0.2)
    assert [r.body for r in client.answers()] == [b"expired"]
    assert poll.unsubscribed == 1


def test_a_long_poll_from_a_worker_thread_waits_holding_no_worker() -> None:
    poll = _Poll()
    client = connect(_long_poll_app(poll, blocking=True))
    client.send(get("/poll"))
    client.pool.run_next()
    client.loop.run_ready()
    assert not client.pool.waiting and len(poll.wakes) == 1
    poll.ready(b"news")
    client.loop.run_ready()
    assert [r.body for r in client.answers()] == [b"news"]


def test_stopping_expires_a_waiting_long_poll_at_once() -> None:
    poll = _Poll(timeout=300.0)
    client = connect(_long_poll_app(poll))
    client.send(get("/poll"))
    client.connection.shutdown()
    (reply,) = client.answers()
    assert reply.body == b"expired" and reply.headers["connection"] == "close"
    assert poll.unsubscribed == 1


def test_a_lost_connection_unsubscribes_its_long_poll() -> None:
    poll = _Poll()
    client = connect(_long_poll_app(poll))
    client.send(get("/poll"))
    client.connection.connection_lost(None)
    assert poll.unsubscribed == 1 and poll.wakes == []
    assert client.loop.pending() == []


def test_a_long_poll_ready_at_once_is_answered_at_once() -> None:
    poll = _Poll()
    poll.answer = ok(b"already")
    client = connect(_long_poll_app(poll))
    client.send(get("/poll"))
    assert [r.body for r in client.answers()] == [b"already"]
    assert poll.wakes == []


def test_requests_read_past_the_queue_limit_then_eof_are_all_answered() -> None:
    """A client pipelines 80 requests in one write and half-closes: what was read
    while reading paused is parsed once the queue drains, before the EOF is acted on."""
    client = connect(FakeApp(blocking=True))
    client.send(b"".join(get(f"/{i}") for i in range(80)))
    client.connection.eof_received()
    assert len(client.connection.queue) < 80  # the rest waits unparsed
    _drain(client)
    assert [r.body for r in client.answers()] == [f"/{i}".encode() for i in range(80)]
    assert client.transport.closed


def test_a_truncated_answer_to_head_is_its_whole_head_then_eof() -> None:
    client = connect(_faulty("truncate"))
    client.send(b"HEAD /fault HTTP/1.1\r\nHost: x\r\n\r\n")
    data = client.transport.take()
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\n")
    assert client.transport.eof
