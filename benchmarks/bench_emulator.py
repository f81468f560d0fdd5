"""Throughput of signed CancelTask calls: the emulator vs a bare ASGI app, same uvicorn.

    /tmp/dev/bin/python benchmarks/bench_emulator.py [--duration 3] [--rounds 2]
        [--connections 32] [--requests 150000] [--no-sqlite] [--no-cli]

Needs ``wrk`` on PATH (``apt-get install wrk``). Everything runs on 127.0.0.1; every
load run stops by itself (1 s warm-up, then ``--duration`` seconds). About 2 minutes
with the defaults on 2 cores.

1. Pre-signs ``--requests`` V1 CancelTask requests (:func:`taskcancel.wire.v1.build_request`:
   a unique ``SignatureNonce`` each, the current ``Timestamp``, task i on line i) into a
   file. V1 puts everything in the query, so wrk can replay a request from one line.
2. For each row, starts a fresh server subprocess (``benchmarks/_serve.py``: the
   ``taskcancel serve`` uvicorn and logging set-up, with a chosen ``http``/``loop``/log
   level) and runs ``wrk -t1 -cC -s wrk_signed.lua`` against it, which sends each line
   once. The emulator's world (MemoryStore, or SqliteStore on a file) has one Processing
   ImportImage task per line, owned by ``testid``, so every request is a real successful
   cancel; anything else (e.g. SignatureNonceUsed) shows as non-2xx. A probe cancel
   checks each emulator before the load. The bare app answers the same requests with a
   fixed 200 ``{"RequestId": ...}``.
3. Also runs the real ``taskcancel serve --world FILE`` (uvicorn ``auto``/``auto``) at
   log level info (its default) and warning.

Rows run in ``--rounds`` rounds (interleaved) and the best round counts: on a shared
machine other processes only ever slow a run down. Prints one table with req/s, latency,
2xx/non-2xx counts and the ratio to the bare app under the same configuration. No
assertions; the target is emulator >= 0.6x bare.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

import _serve

from taskcancel import wire

LUA = os.path.join(_serve.HERE, "wrk_signed.lua")
WARMUP_SECONDS = 1
_RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


# ------------------------------------------------------------------ requests and world


def _sign_range(start: int, stop: int, stamp: str) -> str:
    timestamp = datetime.fromisoformat(stamp)
    lines = []
    for index in range(start, stop):
        request = wire.v1.build_request(
            "CancelTask",
            {"RegionId": _serve.REGION, "TaskId": _serve.task_id(index)},
            access_key_id=_serve.ACCESS_KEY_ID,
            secret=_serve.ACCESS_KEY_SECRET,
            nonce=uuid.uuid4().hex,
            timestamp=timestamp,
        )
        lines.append(request.target)
    return "\n".join(lines) + "\n"


def write_requests(path: str, count: int) -> None:
    """``count`` signed request targets, one per line, task i on line i (2 processes)."""
    stamp = datetime.now(UTC).isoformat()
    chunk = 25_000
    bounds = [(i, min(i + chunk, count)) for i in range(0, count, chunk)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool, open(path, "w") as out:
        futures = [pool.submit(_sign_range, start, stop, stamp) for start, stop in bounds]
        for future in futures:
            out.write(future.result())


def write_world(path: str, count: int) -> None:
    """The same world as ``_serve.py --tasks count``, as a world file for ``taskcancel serve``."""
    names = [_serve.task_id(i) for i in range(count)] + [_serve.PROBE_TASK]
    tasks = [
        {
            "TaskId": name,
            "RegionId": _serve.REGION,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
            "AccessKeyId": _serve.ACCESS_KEY_ID,
            "TaskProcess": "40%",
        }
        for name in names
    ]
    world = {
        "Regions": [_serve.REGION],
        "Accounts": [
            {"AccessKeyId": _serve.ACCESS_KEY_ID, "AccessKeySecret": _serve.ACCESS_KEY_SECRET}
        ],
        "Tasks": tasks,
    }
    with open(path, "w") as handle:
        json.dump(world, handle, separators=(",", ":"))


def probe(port: int) -> None:
    """One real cancel (of the probe task) must succeed, or the run is meaningless."""
    request = wire.v1.build_request(
        "CancelTask",
        {"RegionId": _serve.REGION, "TaskId": _serve.PROBE_TASK},
        access_key_id=_serve.ACCESS_KEY_ID,
        secret=_serve.ACCESS_KEY_SECRET,
        nonce=uuid.uuid4().hex,
        timestamp=datetime.now(UTC),
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(request.method, request.target, body=b"", headers=dict(request.headers))
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    if reply.status != 200 or b"RequestId" not in body:
        raise RuntimeError(f"probe cancel failed: HTTP {reply.status} {body[:300]!r}")


# ------------------------------------------------------------------------------- wrk


@dataclass
class Result:
    requests: int
    duration_us: int
    non2xx: int
    socket_errors: int
    wraps: int
    p50_us: int
    p99_us: int

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def run_wrk(port: int, requests_file: str, *, seconds: int, connections: int, offset: int):
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        LUA,
        f"http://127.0.0.1:{port}/",
        "--",
        requests_file,
        str(offset),
        "1",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    match = _RESULT.search(done.stdout)
    if done.returncode != 0 or match is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}\n{done.stderr}")
    fields = dict(item.split("=") for item in match.group(1).split())
    return Result(
        requests=int(fields["requests"]),
        duration_us=int(fields["duration_us"]),
        non2xx=int(fields["non2xx"]),
        socket_errors=sum(int(fields[k]) for k in ("connect", "read", "write", "timeout")),
        wraps=int(fields["wraps"]),
        p50_us=int(fields["p50_us"]),
        p99_us=int(fields["p99_us"]),
    )


def measure(command, args, workdir, *, probe_first: bool) -> Result:
    """Start the server, warm it up, then the measured run on fresh requests."""
    log = os.path.join(workdir, "server.log")
    with _serve.ServerProcess(command, log) as server:
        if probe_first:
            probe(server.port)
        warm = run_wrk(
            server.port,
            args.requests_file,
            seconds=WARMUP_SECONDS,
            connections=args.connections,
            offset=0,
        )
        # Skip what the warm-up completed, what it still had in flight (one per
        # connection) and the request wrk builds to check for pipelining.
        offset = warm.requests + 2 * args.connections + 1
        return run_wrk(
            server.port,
            args.requests_file,
            seconds=args.duration,
            connections=args.connections,
            offset=offset,
        )


# ------------------------------------------------------------------------------ main


def sqlite_available() -> str | None:
    """None if ``taskcancel._store.sqlite.SqliteStore`` can be used, else why not."""
    try:
        from taskcancel._store.sqlite import SqliteStore  # noqa: F401
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass
class Spec:
    """One row: a server command, and the key of the bare row it is compared with."""

    key: str
    section: str
    label: str
    app: str
    command: list[str]
    bare: str | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def best(self) -> Result:
        # Other processes can only slow a run down: the best round is the least disturbed.
        return max(self.results, key=lambda result: result.rate)


SHIPPED = "A. uvicorn parsers and loops (taskcancel.server.uvicorn_config, bind_socket)"
OTHER = "B. SQLite store and the real CLI (compared with A's httptools+uvloop bare)"


def plan(args: argparse.Namespace, workdir: str) -> list[Spec]:
    n = args.requests
    serve = _serve.serve_command
    h11 = {"http": "h11", "loop": "asyncio"}
    specs = [
        Spec("bare", SHIPPED, "httptools+uvloop", "bare", serve("bare")),
        Spec(
            "emu-w",
            SHIPPED,
            "httptools+uvloop log=warning",
            "emulator (memory)",
            serve("emulator", tasks=n),
            "bare",
        ),
        Spec(
            "emu-i",
            SHIPPED,
            "httptools+uvloop log=info",
            "emulator (memory)",
            serve("emulator", log_level="info", tasks=n),
            "bare",
        ),
        Spec("h11-bare", SHIPPED, "h11+asyncio", "bare", serve("bare", **h11)),
        Spec(
            "h11-emu-w",
            SHIPPED,
            "h11+asyncio log=warning",
            "emulator (memory)",
            serve("emulator", tasks=n, **h11),
            "h11-bare",
        ),
    ]
    if not args.no_sqlite:
        why = sqlite_available()
        if why is not None:
            print(f"SqliteStore row skipped: taskcancel._store.sqlite is not usable ({why})")
        else:
            store = os.path.join(workdir, "store.sqlite")  # _serve.py starts it afresh
            specs.append(
                Spec(
                    "sqlite",
                    OTHER,
                    "httptools+uvloop log=warning",
                    "emulator (SQLite)",
                    serve("emulator", tasks=n, store=store),
                    "bare",
                )
            )
    if not args.no_cli:
        world = os.path.join(workdir, "world.json")
        write_world(world, n)
        exe = shutil.which("taskcancel", path=os.path.dirname(sys.executable))
        base = [exe] if exe else [sys.executable, "-m", "taskcancel.cli"]
        for level in ("info", "warning"):
            specs.append(
                Spec(
                    f"cli-{level}",
                    OTHER,
                    f"taskcancel serve --log-level {level}",
                    "emulator (memory)",
                    [*base, "serve", "--port", "0", "--world", world, "--log-level", level],
                    "bare",
                )
            )
    return specs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per row; the best counts")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (wrk -t is 1)")
    parser.add_argument(
        "--requests", type=int, default=150_000, help="pre-signed requests (= tasks)"
    )
    parser.add_argument("--no-cli", action="store_true", help="skip the taskcancel serve rows")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SqliteStore row")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not on PATH: apt-get install -y wrk", file=sys.stderr)
        return 2
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        os.environ.pop(name, None)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="taskcancel-bench-")
    try:
        args.requests_file = os.path.join(workdir, "requests.txt")
        write_requests(args.requests_file, args.requests)
        print(
            f"signed {args.requests} CancelTask requests in {time.monotonic() - started:.1f}s;"
            f" wrk -t1 -c{args.connections}, {WARMUP_SECONDS}s warm-up + {args.duration}s"
            f" per run, best of {args.rounds} rounds; {os.cpu_count()} cores,"
            f" load average {load_before:.2f}",
            flush=True,
        )
        specs = plan(args, workdir)
        for number in range(1, args.rounds + 1):
            for spec in specs:
                result = measure(spec.command, args, workdir, probe_first=spec.app != "bare")
                spec.results.append(result)
                print(
                    f"  round {number}: {spec.label:<36} {spec.app:<18} {result.rate:>9,.0f} req/s",
                    flush=True,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    by_key = {spec.key: spec for spec in specs}
    print()
    header = (
        f"{'uvicorn config':<36} {'app':<18} {'req/s':>7} {'p50 ms':>6} {'p99 ms':>6}"
        f" {'2xx':>6} {'non2xx':>6} {'wraps':>5} {'vs bare':>7}  all rounds (req/s)"
    )
    section = ""
    for spec in specs:
        if spec.section != section:
            section = spec.section
            print(section)
            print(header)
        best = spec.best
        bare = by_key[spec.bare].best if spec.bare else best
        rounds = " / ".join(f"{result.rate:,.0f}" for result in spec.results)
        print(
            f"{spec.label:<36} {spec.app:<18} {best.rate:>7,.0f} {best.p50_us / 1000:>6.2f}"
            f" {best.p99_us / 1000:>6.2f} {best.requests - best.non2xx:>6} {best.non2xx:>6}"
            f" {best.wraps:>5} {best.rate / bare.rate:>6.2f}x  {rounds}"
        )
        # The bare app ignores nonces, so replaying the file (wraps) is harmless there.
        wraps = 0 if spec.app == "bare" else sum(r.wraps for r in spec.results)
        failures = wraps + sum(r.non2xx + r.socket_errors for r in spec.results)
        if failures:
            print(f"{'':<36} !! non-2xx, socket errors or wraps in some round: {failures}")
    print()
    print(
        "req/s, latency and counts: the best round. vs bare: over the bare app under the same"
        " http/loop and socket;\ntarget for the emulator >= 0.60x. taskcancel serve uses its"
        " bounded httptools protocol and uvloop.\n2xx = wrk requests - non-2xx."
        " wraps: times wrk replayed the file from the top\n(fine for the bare app; for the"
        " emulator it means replayed nonces: raise --requests)."
    )
    load_after = os.getloadavg()[0]
    print(
        f"total {time.monotonic() - started:.0f}s; load average {load_before:.2f} before,"
        f" {load_after:.2f} after (well above 1 means other processes shared the 2 cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
