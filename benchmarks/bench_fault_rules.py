"""What fault rules cost a signed CancelTask: no rules vs 20 rules that do not match.

``python benchmarks/bench_fault_rules.py [--quick] [--baseline PATH]``

Each figure is µs per ``Emulator.handle`` of a pre-signed (V1) CancelTask of a fresh
``Processing`` task (signing is outside the timing; authentication, the rules, the cancel
and rendering are inside), over an in-memory store, the best of several repeats, each
repeat in a fresh app. Every configuration runs in a child process of its own, the
repeats interleaved, so they share the machine's state. ``--baseline PATH`` adds the same
no-rules run over another checkout (say the main branch before fault rules): "today".

Targets: 20 non-matching rules >= 0.95x the throughput of no rules; no rules within
noise (>= 0.95x) of the baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
REGION = "cn-hangzhou"


def child(rules: int, calls: int) -> float:
    """µs per signed cancel in a fresh app with ``rules`` non-matching rules."""
    from taskcancel import wire
    from taskcancel._core._model import Task, TaskAction, TaskStatus
    from taskcancel._store import MemoryStore
    from taskcancel.server import RawRequest, Settings, build
    from taskcancel.testing import FakeClock
    from taskcancel.worldfile import Faults, WorldSpec

    ids = [f"t-bench-{n:07d}" for n in range(calls)]
    clock = FakeClock(NOW)
    store = MemoryStore(
        [
            Task(
                task_id=t,
                region_id=REGION,
                action=TaskAction.IMPORT_IMAGE,
                status=TaskStatus.PROCESSING,
                owner="testid",
            )
            for t in ids
        ],
        regions={REGION},
        clock=clock,
    )
    faults = Faults()
    if rules:
        from taskcancel.worldfile import FaultRule

        # Each kind of miss: another task, another action, another region, another key.
        whens: list[dict[str, object]] = [
            {"first": 1},
            {"every": 2},
            {"calls": (1, 3)},
            {"probability": 0.5},
        ]
        matches: list[dict[str, object]] = [
            {"task_id": "t-none"},
            {"action": "DescribeTasks"},
            {"region_id": "cn-beijing"},
            {"access_key_id": "someone-else"},
            {"action": "CancelTask", "task_id": "t-none"},
        ]
        faults = Faults(
            rules=tuple(
                FaultRule(
                    name=f"r{n}",
                    error="InternalError",
                    **matches[n % len(matches)],  # type: ignore[arg-type]
                    **whens[n % len(whens)],  # type: ignore[arg-type]
                )
                for n in range(rules)
            )
        )
    start = WorldSpec(regions=frozenset({REGION}), faults=faults)
    app = build(Settings(), store, start, fake_clock=clock, gateway_clock=clock).app
    requests = []
    for n, task_id in enumerate(ids):
        out = wire.v1.build_request(
            "CancelTask",
            {"RegionId": REGION, "TaskId": task_id},
            access_key_id="testid",
            secret="testsecret",
            nonce=f"nonce-{n}",
            timestamp=NOW,
        )
        headers = [(k.encode(), v.encode()) for k, v in out.headers]
        requests.append(RawRequest(out.method, out.target.encode(), headers, out.body))
    handle = app.handle
    begun = time.process_time()  # CPU time: on a shared machine, wall time is mostly queueing
    for request in requests:
        handle(request)
    elapsed = time.process_time() - begun
    final = store.find_task(REGION, ids[-1])
    assert final is not None and final.status is TaskStatus.DELETED, "the cancels did not run"
    return elapsed / calls * 1e6


def run_child(tree: str, rules: list[int], calls: int, repeat: int) -> list[float]:
    """Best µs/call of each rule count, measured in one process, interleaved."""
    env = {**os.environ, "PYTHONPATH": tree}
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            ",".join(map(str, rules)),
            "--calls",
            str(calls),
            "--repeat",
            str(repeat),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return [float(us) for us in json.loads(done.stdout)["us"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and repeats")
    parser.add_argument("--baseline", metavar="PATH", help="a checkout to compare no rules with")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        counts = [int(n) for n in args.child.split(",")]
        best = [float("inf")] * len(counts)
        for _ in range(args.repeat):
            for i, rules in enumerate(counts):
                best[i] = min(best[i], child(rules, args.calls))
        print(json.dumps({"us": best}))
        return
    calls, repeat, rounds = (5_000, 5, 2) if args.quick else (10_000, 10, 3)
    here = str(Path(__file__).resolve().parents[1])
    fastest: dict[str, float] = {"no rules": float("inf"), "20 non-matching rules": float("inf")}
    if args.baseline:
        fastest["baseline, no rules"] = float("inf")
    for _ in range(rounds):  # this tree and the baseline alternate, in processes of their own
        none, twenty = run_child(here, [0, 20], calls, repeat)
        fastest["no rules"] = min(fastest["no rules"], none)
        fastest["20 non-matching rules"] = min(fastest["20 non-matching rules"], twenty)
        if args.baseline:
            (base,) = run_child(str(Path(args.baseline).resolve()), [0], calls, repeat)
            fastest["baseline, no rules"] = min(fastest["baseline, no rules"], base)
    print(f"signed CancelTask through Emulator.handle, {calls} calls, best of {repeat * rounds}")
    for name, us in fastest.items():
        print(f"  {name:24s} {us:8.2f} µs/call  {1e6 / us:10.0f} calls/s")
    ratio = fastest["no rules"] / fastest["20 non-matching rules"]
    rows = [("20 non-matching rules vs no rules", ratio)]
    if args.baseline:
        rows.append(("no rules vs baseline", fastest["baseline, no rules"] / fastest["no rules"]))
    print(f"\n{'benchmark':40s} {'throughput ratio':>16s} {'target':>8s} {'met':>4s}")
    for label, value in rows:
        print(f"{label:40s} {value:15.3f}x {'>=0.95x':>8s} {'yes' if value >= 0.95 else 'NO':>4s}")


if __name__ == "__main__":
    main()
