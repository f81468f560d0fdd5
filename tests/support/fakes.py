"""A fake transport, a manual clock and a scripted app: a Connection with no socket and no loop.

``connect()`` gives a :class:`~taskcancel.server._connection.Connection` whose transport
records what it was told (bytes written, EOF, close, abort, reading paused or not) and
whose loop is a :class:`ManualLoop`: time moves only when the test says so
(:meth:`ManualLoop.advance`), and callbacks "from another thread" run when it says so.
"""

from __future__ import annotations

import heapq
import itertools
import json
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from taskcancel import wire
from taskcancel.server._connection import Connection
from taskcancel.server._connections import ConnectionSet
from taskcancel.server._request import Answer, Deferred, Pending, RawRequest

T = TypeVar("T")


class ManualLoop:
    """``time``, ``call_later`` and ``call_soon_threadsafe`` on a clock moved by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self._timers: list[tuple[float, int, _Timer]] = []
        self._order = itertools.count()
        self._soon: deque[tuple[Callable[..., object], tuple[Any, ...]]] = deque()
        self._lock = threading.Lock()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> _Timer:
        timer = _Timer(self.now + max(delay, 0.0), callback, args)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    def call_soon_threadsafe(self, callback: Callable[..., object], *args: Any) -> None:
        with self._lock:
            self._soon.append((callback, args))

    def run_ready(self) -> None:
        """Run what other threads handed to the loop."""
        while True:
            with self._lock:
                if not self._soon:
                    return
                callback, args = self._soon.popleft()
            callback(*args)

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` on, running each timer due on the way, in order."""
        target = self.now + seconds
        self.run_ready()
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            self.now = max(self.now, when)
            if not timer.cancelled:
                timer.callback(*timer.args)
            self.run_ready()
        self.now = target

    def pending(self) -> list[float]:
        """When the timers not cancelled are due."""
        return sorted(t.when for _, _, t in self._timers if not t.cancelled)


@dataclass
class _Timer:
    when: float
    callback: Callable[..., object]
    args: tuple[Any, ...]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTransport:
    """Records what the connection does to its connection; the test plays the client."""

    def __init__(self) -> None:
        self.protocol: Connection | None = None
        self.written = bytearray()
        self.eof = False  # write_eof() was called
        self.closed = False
        self.aborted = False
        self.reading = True
        self.buffered = 0  # what get_write_buffer_size() says

    # -- what the connection calls ---------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        if self.closed:
            return  # asyncio drops writes to a closing transport
        self.written += data

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_write_buffer_size(self) -> int:
        return self.buffered

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000)}.get(name, default)

    # -- what the test calls, as the client ------------------------------------------------

    def send(self, data: bytes) -> None:
        assert self.protocol is not None
        self.protocol.data_received(data)

    def stop_reading(self) -> None:
        """The client takes no more answers: the write buffer fills up."""
        assert self.protocol is not None
        self.buffered = 1 << 20
        self.protocol.pause_writing()

    def start_reading(self) -> None:
        assert self.protocol is not None
        self.buffered = 0
        self.protocol.resume_writing()

    def take(self) -> bytes:
        """What was written since the last ``take``."""
        data, self.written = bytes(self.written), bytearray()
        return data


@dataclass
class FakeApp:
    """Answers 200 with the request target as the body, unless ``script`` says otherwise
    (``script(request)`` returns what ``stage`` should)."""

    blocking: bool = False
    script: Callable[[RawRequest], Answer | Pending | Deferred] | None = None
    seen: list[RawRequest] = field(default_factory=list)
    control_limit: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def control_body_limit(self, headers: Any) -> int:
        return self.control_limit

    def stage(self, request: RawRequest) -> Answer | Pending | Deferred:
        self.seen.append(request)
        if self.script is not None:
            return self.script(request)
        if self.blocking:  # the store's part in a worker thread
            return Pending(lambda: ok(request.target), writes=request.method != "GET", offload=True)
        return ok(request.target)

    def refusal(self, error: wire.GatewayError) -> Answer:
        request_id = f"refused-{next(self._ids)}"
        response = wire.render_error(error, request_id=request_id, host_id="test-host")
        return Answer(response, request_id, code=error.code)


def ok(body: bytes, **fields: Any) -> Answer:
    headers = (("content-type", "text/plain"), ("content-length", str(len(body))))
    return Answer(wire.Response(200, headers, body), "req", **fields)


class ManualExecutor(Executor):
    """A worker pool whose work runs when the test says so (:meth:`run_next`)."""

    def __init__(self) -> None:
        self.waiting: deque[tuple[Future[Any], Callable[[], Any]]] = deque()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        self.waiting.append((future, lambda: fn(*args, **kwargs)))
        return future

    def run_next(self) -> None:
        future, work = self.waiting.popleft()
        future.set_running_or_notify_cancel()
        try:
            future.set_result(work())
        except Exception as exc:
            future.set_exception(exc)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


@dataclass
class Client:
    """One connection under test, with its transport, loop and shared set."""

    connection: Connection
    transport: FakeTransport
    loop: ManualLoop
    shared: ConnectionSet
    pool: ManualExecutor

    def send(self, data: bytes) -> None:
        self.transport.send(data)

    def answers(self) -> list[Reply]:
        return replies(self.transport.take())


def shared_set(app: Any, **options: Any) -> tuple[ConnectionSet, ManualExecutor]:
    pool = ManualExecutor()
    options.setdefault("limits", wire.DEFAULT_LIMITS)
    options.setdefault("request_timeout", 30.0)
    options.setdefault("keep_alive", 5.0)
    options.setdefault("max_connections", 100)
    options.setdefault("log", None)
    return ConnectionSet(app, readers=pool, writers=pool, **options), pool


def connect(
    app: Any = None,
    *,
    loop: ManualLoop | None = None,
    shared: tuple[ConnectionSet, ManualExecutor] | None = None,
    **options: Any,
) -> Client:
    """A Connection on a fake transport, made and connected."""
    app = app if app is not None else FakeApp()
    loop = loop or ManualLoop()
    shared_connections, pool = shared or shared_set(app, **options)
    connection = Connection(shared_connections, loop)
    transport = FakeTransport()
    transport.protocol = connection
    connection.connection_made(transport)  # type: ignore[arg-type]
    return Client(connection, transport, loop, shared_connections, pool)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def replies(data: bytes) -> list[Reply]:
    """The responses in ``data`` (each has a Content-Length; a 100 Continue is skipped)."""
    out: list[Reply] = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"an incomplete head: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status == 100:
            data = rest
            continue
        length = int(headers.get("content-length", "0"))
        out.append(Reply(status, headers, rest[:length]))
        data = rest[length:]
    return out


def get(target: str = "/", *, extra: str = "", version: str = "1.1") -> bytes:
    return f"GET {target} HTTP/{version}\r\nHost: x\r\n{extra}\r\n".encode()


def post(target: str, body: bytes, *, extra: str = "") -> bytes:
    head = f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body
