"""Benchmark the testing kit: emulator start/stop, and check_transport runs.

Run: ``python benchmarks/bench_kit.py``. Prints figures; asserts nothing.

- EmulatorServer start-to-ready and stop times (median of 10), which is what the
  ``ecs_emulator`` fixture costs per test;
- ``check_transport`` with 200 examples on the in-memory transport (target: < 5 s);
- ``check_transport`` with 20 examples over HTTP, one server for the run (a fresh store
  per example) and one server per example, side by side.
"""

from __future__ import annotations

import statistics
import time

import hypothesis

from taskcancel import ApiRequest, ApiResponse, InMemoryTransport, MemoryStore, Task, Transport
from taskcancel.testing import CHECK_TRANSPORT_SETTINGS, EmulatorServer, check_transport

__all__ = ["main"]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_server(rounds: int = 10) -> None:
    EmulatorServer().start().stop()  # warm up: imports uvicorn
    starts, stops = [], []
    for _ in range(rounds):
        server = EmulatorServer()
        began = time.perf_counter()
        server.start()
        ready = time.perf_counter()
        server.stop()
        stopped = time.perf_counter()
        starts.append(ready - began)
        stops.append(stopped - ready)
    print(f"EmulatorServer start-to-ready  median {_ms(statistics.median(starts))}  (n={rounds})")
    print(f"EmulatorServer stop            median {_ms(statistics.median(stops))}  (n={rounds})")


def _timed_check(label: str, factory: object, examples: int, **options: object) -> float:
    settings = hypothesis.settings(CHECK_TRANSPORT_SETTINGS, max_examples=examples, database=None)
    began = time.perf_counter()
    check_transport(factory, settings=settings, **options)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - began
    print(f"{label:<48} {elapsed:6.2f} s  ({elapsed / examples * 1000:.1f} ms/example)")
    return elapsed


class _ServerPerWorld:
    def __init__(self, tasks: list[Task]) -> None:
        self.server = EmulatorServer(tasks).start()
        self.inner = self.server.client().transport

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()
        self.server.stop()


def bench_check_transport() -> None:
    memory = _timed_check(
        "check_transport in-memory, 200 examples",
        lambda tasks: InMemoryTransport(MemoryStore(tasks)),
        200,
    )
    with EmulatorServer() as server:

        def one_server(tasks: list[Task]) -> Transport:
            server.load(store=MemoryStore(tasks))
            return server.client().transport

        shared = _timed_check(
            "check_transport HTTP, one server, 20 examples",
            one_server,
            20,
            account=server.access_key_id,
        )
    per_world = _timed_check(
        "check_transport HTTP, server per example, 20 ex.", _ServerPerWorld, 20
    )
    print(f"in-memory per example vs HTTP one server: 1 : {shared / 20 / (memory / 200):.1f}")
    print(f"HTTP server per example vs one server:    1 : {per_world / shared:.1f} (slower)")


def main() -> None:
    bench_server()
    bench_check_transport()


if __name__ == "__main__":
    main()
