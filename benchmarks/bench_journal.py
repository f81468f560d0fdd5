"""What the request journal costs: bytes per entry, the RSS of a full default journal, and
``serve`` throughput with the journal on (the default) against ``--journal-size 0``.

    python benchmarks/bench_journal.py [--duration 3] [--rounds 3] [--connections 32]
        [--requests 60000] [--entries 10000]

Needs ``wrk`` on PATH (``apt-get install wrk``). Everything runs on 127.0.0.1.

1. In-process (no sockets): ``--entries`` signed V1 CancelTasks through ``Emulator.handle``
   with a journal of that size; the bytes it holds are what ``tracemalloc`` sees freed
   when it is cleared, divided by the entries. The same for requests carrying a 64 KiB
   parameter (an entry keeps a bounded cut of them: ``"Truncated": true``).
2. ``taskcancel serve --log-level warning`` with the default journal and with
   ``--journal-size 0``, in interleaved rounds (the best round of each counts: other
   processes only ever slow a run down) under ``wrk`` replaying pre-signed cancels, each a
   real successful cancel. Prints requests/s, the ratio (target: >= 0.95) and the
   server's RSS after the run, when the default journal is full (each run sends more
   than 10,000 requests). No assertions.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import tracemalloc
import uuid
from datetime import UTC, datetime

import _serve
from _wrk import Result, cpu_seconds, run_wrk
from bench_emulator import WARMUP_SECONDS, probe, write_requests, write_world

from taskcancel import MemoryStore, Task, TaskAction, TaskStatus, wire
from taskcancel.server import RawRequest, Settings, build
from taskcancel.testing import ServeProcess
from taskcancel.worldfile import WorldSpec


def _signed(index: int, extra: dict[str, str] | None = None) -> RawRequest:
    request = wire.v1.build_request(
        "CancelTask",
        {"RegionId": _serve.REGION, "TaskId": _serve.task_id(index), **(extra or {})},
        access_key_id=_serve.ACCESS_KEY_ID,
        secret=_serve.ACCESS_KEY_SECRET,
        nonce=uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
    )
    return RawRequest(request.method, request.target.encode(), [(b"host", b"127.0.0.1")], b"")


def bytes_per_entry(entries: int, extra: dict[str, str] | None = None) -> float:
    """Bytes the journal holds per entry of ``entries`` signed cancels (in-process)."""
    tasks = [
        Task(
            task_id=_serve.task_id(i),
            region_id=_serve.REGION,
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner=_serve.ACCESS_KEY_ID,
        )
        for i in range(entries)
    ]
    store = MemoryStore(tasks, regions=[_serve.REGION])
    start = WorldSpec(
        regions=store.regions(), accounts={_serve.ACCESS_KEY_ID: _serve.ACCESS_KEY_SECRET}
    )
    # A 64 KiB parameter is past the default query limit (8 KiB): allow it here.
    limits = wire.Limits(max_query_bytes=1 << 18) if extra else wire.DEFAULT_LIMITS
    built = build(Settings(journal_size=entries, limits=limits), store, start)
    requests = [_signed(i, extra) for i in range(entries)]
    gc.collect()
    tracemalloc.start()
    for request in requests:
        built.app.handle(request)
    del requests
    gc.collect()
    full = tracemalloc.get_traced_memory()[0]
    cleared = built.journal.clear()
    gc.collect()
    empty = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (full - empty) / max(cleared, 1)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(command: list[str], args: argparse.Namespace) -> tuple[Result, int]:
    with ServeProcess(command=command, timeout=600) as server:
        probe(server.port)

        def load(seconds: int, offset: int) -> Result:
            return run_wrk(
                server.port,
                args.requests_file,
                seconds=seconds,
                connections=args.connections,
                offset=offset,
            )

        warm = load(WARMUP_SECONDS, 0)
        offset = warm.requests + 2 * args.connections + 1
        began = cpu_seconds(server.process.pid)
        result = load(args.duration, offset)
        result.cpu_us = (cpu_seconds(server.process.pid) - began) / result.requests * 1e6
        return result, rss_kib(server.process.pid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--requests", type=int, default=60_000)
    parser.add_argument("--entries", type=int, default=10_000)
    args = parser.parse_args(argv)

    small = bytes_per_entry(args.entries)
    large = bytes_per_entry(min(args.entries, 2000), {"Padding": "x" * 65_536})
    print(f"journal bytes per entry, signed V1 CancelTask:        {small:8.0f}")
    print(f"journal bytes per entry, with a 64 KiB parameter:     {large:8.0f}")
    print(
        f"a full default journal (10,000 entries), estimated:   {small * 10_000 / 2**20:8.1f} MiB"
    )

    with tempfile.TemporaryDirectory() as workdir:
        world = os.path.join(workdir, "world.json")
        write_world(world, args.requests)
        args.requests_file = os.path.join(workdir, "requests.txt")
        write_requests(args.requests_file, args.requests)
        serve = [
            sys.executable, "-m", "taskcancel.cli", "serve", "--port", "0", "--world", world,
            "--log-level", "warning",
        ]  # fmt: skip
        rows = {"on": serve, "off": [*serve, "--journal-size", "0"]}
        best: dict[str, tuple[Result, int]] = {}
        for round_number in range(args.rounds):
            for key, command in rows.items():
                result, rss = measure(command, args)
                print(
                    f"round {round_number + 1} journal {key:3}: {result.rate:9.0f} req/s  "
                    f"p99 {result.p99_us / 1000:6.1f} ms  cpu {result.cpu_us:5.0f} us/req  "
                    f"RSS {rss / 1024:6.1f} MiB  non-2xx {result.non2xx}"
                )
                if key not in best or result.rate > best[key][0].rate:
                    best[key] = (result, rss)
    on, off = best["on"], best["off"]
    print(f"best journal on : {on[0].rate:9.0f} req/s, RSS after the run {on[1] / 1024:.1f} MiB")
    print(f"best journal off: {off[0].rate:9.0f} req/s, RSS after the run {off[1] / 1024:.1f} MiB")
    print(f"throughput ratio on/off: {on[0].rate / off[0].rate:.3f} (bar: >= 0.95)")
    print(f"RSS of the full default journal (on - off): {(on[1] - off[1]) / 1024:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
