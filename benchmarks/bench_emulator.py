"""Throughput of signed CancelTask calls: taskcancel serve vs a bare ASGI app under uvicorn,
the server before the rewrite (08cbc22) and moto server, side by side in one run.

    python benchmarks/bench_emulator.py [--duration 3] [--rounds 2] [--connections 32]
        [--requests 150000] [--moto-requests 3000] [--no-before] [--no-moto]
        [--no-sqlite] [--no-breakdown]

Needs ``wrk`` on PATH (``apt-get install wrk``), git (for the "before" rows) and, for the
moto row, ``moto[server]`` (the ``bench`` extra). Everything runs on 127.0.0.1; every
load run stops by itself (1 s warm-up, then ``--duration`` seconds). About four minutes
with the defaults on 2 cores.

1. Pre-signs ``--requests`` V1 CancelTask requests (:func:`taskcancel.wire.v1.build_request`:
   a unique ``SignatureNonce`` each, the current ``Timestamp``, task i on line i) into a
   file; V1 puts everything in the query, so wrk replays a request from one line.
2. For each row starts a fresh server process (:class:`taskcancel.testing.ServeProcess`)
   and runs ``wrk -t1 -cC -s wrk_signed.lua`` against it, which sends each line once. Every
   emulator's world has one Processing ImportImage task per line, owned by ``testid``, so
   every request is a real successful cancel (anything else shows as non-2xx); a probe
   cancel checks each server before the load. Rows:

   * the bare ASGI app under uvicorn (httptools + uvloop): the baseline of every ratio;
   * ``taskcancel serve --world FILE`` as a user starts it (log level info, its default:
     one request line each), and with ``--log-level warning`` (request logs off);
   * ``_serve.py --app emulator`` (the same server built in-process), on the memory store
     and on ``--store`` SQLite;
   * before: commit 08cbc22 (the uvicorn-based server) extracted with ``git archive`` and
     run from there (``PYTHONPATH``): its ``taskcancel serve`` (info and warning) and its
     ``_serve.py --app emulator`` (httptools + uvloop, warning);
   * moto server (``_serve.py --app moto``) answering its closest EC2 cancel,
     ``CancelSpotInstanceRequests`` (``_moto.py``), each a real cancel.

3. Prints the per-part CPU breakdown of one signed cancel, measured in-process
   (``_breakdown.py``).

Rows run in ``--rounds`` interleaved rounds and the best round counts: on a shared
machine other processes only ever slow a run down. ``cpu µs`` is the server process's
user + system CPU time during the measured run per request (``/proc``). No assertions.
"""

from __future__ import annotations

import argparse
import http.client
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import _breakdown
import _moto
import _serve
from _wrk import Result, cpu_seconds, run_wrk

from taskcancel import wire
from taskcancel.testing import PROXY_VARIABLES, ServeProcess, clean_env

WARMUP_SECONDS = 1
BEFORE = "08cbc22"


def write_requests(path: str, count: int) -> None:
    """``count`` signed request targets, one per line, task i on line i."""
    timestamp = datetime.now(UTC)
    with open(path, "w") as out:
        for index in range(count):
            request = wire.v1.build_request(
                "CancelTask",
                {"RegionId": _serve.REGION, "TaskId": _serve.task_id(index)},
                access_key_id=_serve.ACCESS_KEY_ID,
                secret=_serve.ACCESS_KEY_SECRET,
                nonce=uuid.uuid4().hex,
                timestamp=timestamp,
            )
            out.write(request.target + "\n")


def write_world(path: str, count: int) -> None:
    """The world of ``_serve.py --tasks count``, as a world file for ``taskcancel serve``."""
    names = [_serve.task_id(i) for i in range(count)] + [_serve.PROBE_TASK]
    task = {"RegionId": _serve.REGION, "TaskAction": "ImportImage", "TaskStatus": "Processing"}
    world = {
        "Regions": [_serve.REGION],
        "Accounts": [
            {"AccessKeyId": _serve.ACCESS_KEY_ID, "AccessKeySecret": _serve.ACCESS_KEY_SECRET}
        ],
        "Tasks": [{"TaskId": name, **task, "AccessKeyId": _serve.ACCESS_KEY_ID} for name in names],
    }
    Path(path).write_text(json.dumps(world, separators=(",", ":")))


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
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request(request.method, request.target, body=b"", headers=dict(request.headers))
    reply = conn.getresponse()
    body = reply.read()
    conn.close()
    if reply.status != 200 or b"RequestId" not in body:
        raise RuntimeError(f"probe cancel failed: HTTP {reply.status} {body[:300]!r}")


@dataclass
class Spec:
    """One row: how to start its server, and what it answers."""

    key: str
    label: str
    kind: str  # "emulator", "bare" or "moto"
    command: list[str]
    env: dict[str, str] | None = None
    results: list[Result] = field(default_factory=list)

    @property
    def best(self) -> Result:
        # Other processes can only slow a run down: the best round is the least disturbed.
        return max(self.results, key=lambda result: result.rate)


def measure(spec: Spec, args: argparse.Namespace, workdir: str) -> Result:
    """Start the server, probe it, warm it up, then the measured run on fresh requests."""
    log = Path(workdir, f"{spec.key}.log")
    requests_file = args.requests_file
    headers: tuple[str, ...] = ()
    with ServeProcess(command=spec.command, env=spec.env, log_path=log, timeout=600) as server:
        if spec.kind == "emulator":
            probe(server.port)
        elif spec.kind == "moto":
            requests_file, headers = os.path.join(workdir, "moto.txt"), _moto.HEADERS
            spot = _moto.prepare(server.endpoint, args.moto_requests, requests_file)
            _moto.probe(server.port, spot)

        def load(seconds: int, offset: int) -> Result:
            return run_wrk(
                server.port,
                requests_file,
                seconds=seconds,
                connections=args.connections,
                offset=offset,
                headers=headers,
            )

        warm = load(WARMUP_SECONDS, 0)
        # Skip what the warm-up completed, what it still had in flight (one per
        # connection) and the request wrk builds to check for pipelining.
        offset = warm.requests + 2 * args.connections + 1
        began = cpu_seconds(server.process.pid)
        result = load(args.duration, offset)
        result.cpu_us = (cpu_seconds(server.process.pid) - began) / result.requests * 1e6
        return result


def plan(args: argparse.Namespace, workdir: str) -> list[Spec]:
    n = args.requests
    world = os.path.join(workdir, "world.json")
    write_world(world, n)
    serve = [sys.executable, "-m", "taskcancel.cli", "serve", "--port", "0", "--world", world]
    command = _serve.serve_command
    specs = [
        Spec("bare", "bare ASGI app, uvicorn httptools+uvloop", "bare", command("bare")),
        Spec("serve", "taskcancel serve (log info, default)", "emulator", serve),
        Spec(
            "serve-w",
            "taskcancel serve --log-level warning",
            "emulator",
            [*serve, "--log-level", "warning"],
        ),
        Spec("emu", "_serve.py emulator, warning", "emulator", command("emulator", tasks=n)),
    ]
    if not args.no_sqlite:
        store = os.path.join(workdir, "store.sqlite")  # _serve.py starts it afresh
        specs.append(
            Spec(
                "sqlite",
                "_serve.py emulator --store SQLite, warning",
                "emulator",
                command("emulator", tasks=n, store=store),
            )
        )
    if not args.no_before:
        old = os.path.join(workdir, "before")
        os.mkdir(old)
        root = os.path.dirname(_serve.HERE)  # git archive in a subfolder takes only that
        archive = subprocess.run(["git", "archive", BEFORE], capture_output=True, cwd=root)
        if archive.returncode != 0:  # an sdist, a shallow clone: no commit to compare with
            why = archive.stderr.decode(errors="replace").strip()
            print(f"before rows skipped: git archive {BEFORE} failed: {why}")
            args.no_before = True
            return plan_rest(specs, args)
        subprocess.run(["tar", "-x", "-C", old], input=archive.stdout, check=True)
        # PYTHONSAFEPATH: no current folder on sys.path (python -m would put this repo first).
        env = clean_env(PYTHONPATH=old, PYTHONSAFEPATH="1")
        where = subprocess.run(
            [sys.executable, "-c", "import taskcancel; print(taskcancel.__file__)"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
        if not where.startswith(old):
            raise RuntimeError(f"PYTHONPATH={old} imports taskcancel from {where}")
        old_serve = [sys.executable, "-m", "taskcancel", "serve", "--port", "0", "--world", world]
        old_emulator = [
            *command("emulator", tasks=n, script=os.path.join(old, "benchmarks", "_serve.py")),
            *("--http", "httptools", "--loop", "uvloop"),
        ]
        specs += [
            Spec("old-serve", f"before ({BEFORE}): serve, log info", "emulator", old_serve, env),
            Spec(
                "old-serve-w",
                f"before ({BEFORE}): serve, warning",
                "emulator",
                [*old_serve, "--log-level", "warning"],
                env,
            ),
            Spec(
                "old-emu", f"before ({BEFORE}): _serve.py, warning", "emulator", old_emulator, env
            ),
        ]
    return plan_rest(specs, args)


def plan_rest(specs: list[Spec], args: argparse.Namespace) -> list[Spec]:
    """The moto server row, when moto's server mode can run here."""
    if args.no_moto:
        return specs
    missing = [
        name for name in ("moto", "flask", "boto3") if importlib.util.find_spec(name) is None
    ]
    if missing:
        print(f"moto row skipped: {', '.join(missing)} not installed (the bench extra)")
        return specs
    specs.append(
        Spec(
            "moto", "moto server, CancelSpotInstanceRequests", "moto", _serve.serve_command("moto")
        )
    )
    return specs


def report(specs: list[Spec]) -> None:
    by_key = {spec.key: spec for spec in specs}
    bare = by_key["bare"].best.rate
    print(
        f"\n{'server':<44} {'req/s':>7} {'cpu µs':>7} {'p50 ms':>6} {'p99 ms':>6}"
        f" {'non2xx':>6} {'vs bare':>7}  all rounds (req/s)"
    )
    for spec in specs:
        best = spec.best
        rounds = " / ".join(f"{result.rate:,.0f}" for result in spec.results)
        print(
            f"{spec.label:<44} {best.rate:>7,.0f} {best.cpu_us:>7.1f} {best.p50_us / 1000:>6.2f}"
            f" {best.p99_us / 1000:>6.2f} {best.non2xx:>6} {best.rate / bare:>6.2f}x  {rounds}"
        )
        # The bare app ignores nonces, so replaying the file (wraps) is harmless there.
        wraps = 0 if spec.kind == "bare" else sum(r.wraps for r in spec.results)
        failures = wraps + sum(r.non2xx + r.socket_errors for r in spec.results)
        if failures:
            print(f"{'':<44} !! non-2xx, socket errors or wraps in some round: {failures}")
    print("\nratios (best rounds)")
    for over, under, what in (
        ("serve", "serve-w", "request logs on (info) vs off (warning); target >= 0.90"),
        ("serve", "old-serve", "taskcancel serve, after vs before the rewrite (log info)"),
        ("serve-w", "old-serve-w", "taskcancel serve, after vs before (warning)"),
        ("emu", "old-emu", "_serve.py emulator, after vs before (warning)"),
        ("sqlite", "emu", "SQLite store vs memory store"),
        ("serve", "moto", "taskcancel serve vs moto server; target >= 30"),
    ):
        if over in by_key and under in by_key:
            ratio = by_key[over].best.rate / by_key[under].best.rate
            print(f"  {ratio:6.2f}x  {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=2, help="runs per row; the best counts")
    parser.add_argument("--connections", type=int, default=32, help="wrk -c (wrk -t is 1)")
    parser.add_argument("--requests", type=int, default=150_000, help="pre-signed requests")
    parser.add_argument("--moto-requests", type=int, default=3000, help="spot requests")
    parser.add_argument("--no-before", action="store_true", help=f"skip the {BEFORE} rows")
    parser.add_argument("--no-moto", action="store_true", help="skip the moto server row")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SqliteStore row")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the CPU breakdown")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not on PATH: apt-get install -y wrk", file=sys.stderr)
        return 2
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    workdir = tempfile.mkdtemp(prefix="taskcancel-bench-")
    try:
        args.requests_file = os.path.join(workdir, "requests.txt")
        write_requests(args.requests_file, args.requests)
        specs = plan(args, workdir)
        print(
            f"{args.requests} signed CancelTask requests; wrk -t1 -c{args.connections},"
            f" {WARMUP_SECONDS}s warm-up + {args.duration}s per run, best of {args.rounds}"
            f" rounds; {os.cpu_count()} cores, load average {load_before:.2f}",
            flush=True,
        )
        for number in range(1, args.rounds + 1):
            for spec in specs:
                result = measure(spec, args, workdir)
                spec.results.append(result)
                print(
                    f"  round {number}: {spec.label:<44} {result.rate:>9,.0f} req/s"
                    f" {result.cpu_us:6.1f} cpu µs",
                    flush=True,
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(specs)
    if not args.no_breakdown:
        print("\nCPU per signed V1 cancel, in-process, part by part (µs, best of 5):")
        for name, us in _breakdown.measure():
            print(f"  {name:<50} {us:6.2f}")
    load_after = os.getloadavg()[0]
    print(
        f"\ntotal {time.monotonic() - started:.0f}s; load average {load_before:.2f} before,"
        f" {load_after:.2f} after (well above 1 means other processes shared the 2 cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
