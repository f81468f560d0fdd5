"""Where one signed V1 CancelTask spends the server's CPU, part by part, in-process.

Used by ``bench_emulator.py`` (and runnable alone: ``python benchmarks/_breakdown.py``).
Each part is timed on its own over the same pre-signed requests the wrk load sends
(``POST /?...V1 query... HTTP/1.1`` with ``x-acs-action``/``x-acs-version`` headers,
one Processing task per request, so each cancel really succeeds), feeding each part the
output of the part before, exactly as the app does. Then the wholes:

* ``Emulator.handle``: the sans-IO app, the parts above plus its glue;
* the connection layer: :class:`taskcancel.server._connection.Connection` fed the request's
  bytes on a real event loop, writing to a transport that keeps nothing: alone (its app
  hands back one ready answer), then with the emulator, the request log off and on (at
  info, to ``/dev/null``, flushed once per 32 requests as under load). The whole costs
  more than its parts: each part alone runs hot in the CPU's caches.

Figures are the best of ``repeat`` passes, in microseconds per request. The event loop's
and the kernel's work (``epoll``, ``send``) is not here: ``bench_emulator.py`` prints the
server process's whole CPU time per request under wrk beside it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from taskcancel import wire
from taskcancel._core._model import Task, TaskAction, TaskStatus
from taskcancel._store import MemoryStore
from taskcancel.api._actions import dispatch
from taskcancel.server import Answer, Emulator, RawRequest, RequestLog, Server, Settings, build
from taskcancel.server._connection import Connection
from taskcancel.server._connections import ConnectionSet
from taskcancel.server._http11 import serialize
from taskcancel.worldfile import WorldSpec

REGION = "cn-hangzhou"
ACCESS_KEY_ID = "testid"
ACCESS_KEY_SECRET = "testsecret"
HOST = b"127.0.0.1:8080"
#: Requests answered per event-loop iteration when the request log flushes (32 connections).
BATCH = 32


def _task(index: int) -> Task:
    return Task(
        task_id=f"t-part-{index:07d}",
        region_id=REGION,
        action=TaskAction.IMPORT_IMAGE,
        status=TaskStatus.PROCESSING,
        owner=ACCESS_KEY_ID,
        progress="40%",
    )


def signed_requests(count: int, now: datetime) -> list[bytes]:
    """``count`` complete HTTP requests as wrk sends them, task i in request i."""
    out = []
    for index in range(count):
        request = wire.v1.build_request(
            "CancelTask",
            {"RegionId": REGION, "TaskId": _task(index).task_id},
            access_key_id=ACCESS_KEY_ID,
            secret=ACCESS_KEY_SECRET,
            nonce=uuid.uuid4().hex,
            timestamp=now,
        )
        head = f"POST {request.target} HTTP/1.1\r\nHost: {HOST.decode()}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in request.headers)
        out.append((head + "Content-Length: 0\r\n\r\n").encode("ascii"))
    return out


def _app(count: int, now: datetime) -> Emulator:
    store = MemoryStore([_task(i) for i in range(count)], regions=[REGION])
    start = WorldSpec(regions=store.regions(), accounts={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
    return build(Settings(), store, start, gateway_clock=lambda: now).app


def _raw(data: bytes) -> RawRequest:
    head, _, body = data.partition(b"\r\n\r\n")
    line, *fields = head.split(b"\r\n")
    method, target, _ = line.split(b" ")
    headers = [tuple(f.split(b": ", 1)) for f in fields]
    return RawRequest(method.decode(), target, headers, body)  # type: ignore[arg-type]


class _NullTransport(asyncio.Transport):
    """A transport that takes every byte and keeps none: the cost of ``write`` is Python's."""

    def write(self, data: Any) -> None:
        pass

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        pass


def _best(
    run: Callable[..., None], count: int, repeat: int, setup: Callable[[], Any] | None = None
) -> float:
    """Best µs per item over ``repeat`` calls of ``run`` (each handles ``count`` items).

    With ``setup``, each call is ``run(setup())`` and only ``run`` is timed (a fresh store,
    say: building 20,000 tasks is no part of answering).
    """
    times = []
    for _ in range(repeat):
        state = () if setup is None else (setup(),)
        gc.collect()
        began = time.perf_counter()
        run(*state)
        times.append(time.perf_counter() - began)
    return min(times) / count * 1e6


class _FixedApp:
    """An app whose every answer is one ready-made success: the connection layer alone."""

    control_max_body = 0

    def __init__(self, real: Emulator) -> None:
        self.real = real
        self.answer = real.handle(_raw(signed_requests(1, datetime.now(UTC))[0]))

    def stage(self, request: RawRequest) -> Any:
        return self.answer

    def refusal(self, error: Any) -> Any:
        return self.real.refusal(error)

    def control_body_limit(self, headers: Any) -> int:
        return 0


def _connection_us(
    requests: Sequence[bytes], now: datetime, repeat: int, log: bool, fixed: bool = False
) -> float:
    """µs per request through a Connection on a real loop (fresh app each pass)."""

    async def one_pass() -> float:
        app: Any = _app(len(requests), now)
        if fixed:
            app = _FixedApp(_app(1, datetime.now(UTC)))
        devnull = open(os.devnull, "w")  # noqa: SIM115 -- closed below
        request_log = RequestLog(devnull) if log else None
        server = Server(app, log=request_log)
        shared = ConnectionSet(
            app,
            limits=server.limits,
            request_timeout=server.request_timeout,
            keep_alive=server.keep_alive,
            max_connections=server.max_connections,
            log=request_log,
        )
        connection = Connection(shared)
        connection.connection_made(_NullTransport())
        gc.collect()
        began = time.perf_counter()
        for index, data in enumerate(requests):
            connection.data_received(data)
            if request_log is not None and index % BATCH == BATCH - 1:
                request_log.flush()  # what the loop's call_soon does once per iteration
        if request_log is not None:
            request_log.flush()
        elapsed = time.perf_counter() - began
        connection.connection_lost(None)
        devnull.close()
        return elapsed

    best = min(asyncio.run(one_pass()) for _ in range(repeat))
    return best / len(requests) * 1e6


def measure(count: int = 20_000, repeat: int = 5) -> list[tuple[str, float]]:
    """``[(part, µs per request), ...]`` for one signed V1 cancel, then the wholes."""
    now = datetime.now(UTC).replace(microsecond=0)
    data = signed_requests(count, now)
    raws = [_raw(d) for d in data]
    parts: list[tuple[str, float]] = []

    def timed(name: str, run: Callable[[], None]) -> None:
        parts.append((name, _best(run, count, repeat)))

    # The parser alone, with callbacks that keep what Connection keeps.
    import httptools

    class Sink:
        def on_url(self, url: bytes) -> None:
            self.url = url

        def on_header(self, name: bytes, value: bytes) -> None:
            self.headers.append((name, value))

        def on_message_begin(self) -> None:
            self.headers: list[tuple[bytes, bytes]] = []

    sink = Sink()
    parser = httptools.HttpRequestParser(sink)

    def parse_http() -> None:
        for d in data:
            parser.feed_data(d)

    timed("HTTP parse (httptools + callbacks)", parse_http)

    app = _app(1, now)

    def request_ids() -> None:
        for _ in range(count):
            app.request_ids()

    timed("request id", request_ids)

    # Each part's inputs are made outside its timing, and its results dropped at once, as
    # a server drops them: keeping 20,000 of them alive would time the allocator instead.
    limits = app.settings.limits
    split = [(r, *r.target.partition(b"?")[::2]) for r in raws]

    def decode() -> None:
        for r, path, query in split:
            wire.decode_request(r.method, path, query, r.headers, r.body, limits=limits)

    timed("query decode (decode_request)", decode)
    decoded = [
        d
        for r, path, query in split
        if isinstance(
            d := wire.decode_request(r.method, path, query, r.headers, r.body, limits=limits),
            wire.DecodedRequest,
        )
    ]
    assert len(decoded) == len(split), "every request decodes"

    def parse_call() -> None:
        for d in decoded:
            wire.parse_call(d)

    timed("V1 parse + canonical string (parse_call)", parse_call)
    calls = [c for d in decoded if isinstance(c := wire.parse_call(d), wire.Call)]
    assert len(calls) == len(decoded)
    window = app.settings.timestamp_window

    def timestamps() -> None:
        for c in calls:
            wire.check_timestamp(c, now=now, window=window)

    timed("timestamp parse + check", timestamps)

    def hmacs() -> None:
        for c in calls:
            wire.verify_signature(c, ACCESS_KEY_SECRET)

    timed("HMAC-SHA1 + compare (verify_signature)", hmacs)
    assert all(wire.verify_signature(c, ACCESS_KEY_SECRET) is None for c in calls)

    def nonces() -> None:
        registry = type(app.live.nonces)()
        for c in calls:
            registry.check(c.access_key_id, c.nonce, now)

    timed("nonce registry", nonces)

    def store_path(fresh: Emulator) -> None:
        context = fresh._context(fresh.live.current, ACCESS_KEY_ID)
        for c in calls:
            dispatch(context, "CancelTask", c.params)

    fresh_app = functools.partial(_app, count, now)
    parts.append(
        ("decide + store (dispatch CancelTask)", _best(store_path, count, repeat, fresh_app))
    )

    def render() -> None:
        for _ in range(count):
            wire.render_success("CancelTask", {}, request_id="X" * 36, response_format="JSON")

    timed("render reply", render)
    reply = wire.render_success("CancelTask", {}, request_id="X" * 36)

    def serialize_all() -> None:
        for _ in range(count):
            serialize(reply, False)

    timed("HTTP response bytes (serialize)", serialize_all)

    answers = [a for raw in _fresh_raws(data)[:1] if isinstance(a := app.handle(raw), Answer)]

    async def log_lines() -> None:
        with open(os.devnull, "w") as devnull:
            request_log = RequestLog(devnull)
            answer = answers[0]
            for index in range(count):
                request_log.record(answer, 0.000123)
                if index % BATCH == BATCH - 1:
                    request_log.flush()
            request_log.flush()

    timed("request log line (format + buffered write)", lambda: asyncio.run(log_lines()))
    parts.append(("  (parts above, summed)", sum(us for _, us in parts)))

    def handle(fresh: Emulator) -> None:
        for raw in raws:
            fresh.handle(raw)

    handle_us = _best(handle, count, repeat, fresh_app)
    parts.append(("Emulator.handle (whole app)", handle_us))
    with_log = _connection_us(data, now, repeat, log=True)
    without_log = _connection_us(data, now, repeat, log=False)
    alone = _connection_us(data, now, repeat, log=False, fixed=True)
    parts.append(("connection layer alone (the app a fixed answer)", alone))
    parts.append(("connection layer + app, request log off", without_log))
    parts.append(("connection layer + app + request log (info)", with_log))
    return parts


def _fresh_raws(data: Sequence[bytes]) -> list[RawRequest]:
    return [_raw(d) for d in data]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for name, us in measure(args.count, args.repeat):
        print(f"{name:<48} {us:7.2f} µs")


if __name__ == "__main__":
    main()
