"""Core benchmarks: the rules, the in-memory mock, and the memory cost of a task.

Run from the repository root::

    python benchmarks/bench_core.py            # everything (about a minute)
    python benchmarks/bench_core.py --quick    # smaller populations, for a smoke run

Every figure is measured side by side with its baseline in the same run (best of
several repeats), and printed; nothing here asserts on time. Sections:

1. ``decide()`` beside a hand-written floor doing the same checks on plain dicts, with
   a cost breakdown of decide's parts (a figure to read, not a target: decide is kept
   plain, as the contract's reference, rather than tuned toward the floor). Also what
   the core's one hot-path shortcut saves (``apply_cancel`` copying a task's valid slots
   instead of ``attrs.evolve`` re-validating them): it stays while that is >= 2% of a
   served cancel's CPU.
2. ``Client(InMemoryTransport(MemoryStore)).cancel_task`` against moto's in-process
   EC2 ``cancel_spot_instance_requests`` (target: >= 100x faster per call).
3. Memory per task with 1,000,000 tasks in a MemoryStore (target: < 400 bytes/task),
   by tracemalloc and by RSS delta, each in a fresh child process.
"""

from __future__ import annotations

import argparse
import gc
import json
import linecache
import os
import random
import string
import subprocess
import sys
import timeit
import tracemalloc
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from taskcancel import (
    DEFAULT_POLICY,
    Accepted,
    CancelRequest,
    Client,
    InMemoryTransport,
    MemoryStore,
    Reason,
    Rejected,
    Task,
    TaskAction,
    TaskStatus,
    apply_cancel,
    decide,
    task_at,
)
from taskcancel.testing import DictWorld  # the smallest World: two dict lookups

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
ACCOUNT = "testid"
REGIONS = ("cn-hangzhou", "cn-shanghai", "ap-southeast-1")
ALNUM = string.ascii_lowercase + string.digits


def task_id(rng: random.Random) -> str:
    """A realistic ECS task id: ``t-`` + 20 lowercase alphanumerics."""
    return "t-" + "".join(rng.choices(ALNUM, k=20))


def best_ns_per_call(loop: Callable[[], object], calls: int, repeat: int) -> float:
    """Best of ``repeat`` timings of ``loop`` (which makes ``calls`` calls), in ns/call."""
    gc.collect()
    return min(timeit.repeat(loop, number=1, repeat=repeat)) / calls * 1e9


# --------------------------------------------------------------------------- 1. decide


_FLOOR_ACTIONS = frozenset({"ImportImage", "ExportImage"})
_FLOOR_STATUSES = frozenset({"Processing"})


def floor_decide(
    region_id: str | None,
    task_id: str | None,
    account: str | None,
    regions: set[str],
    tasks: dict[tuple[str, str], dict[str, Any]],
) -> str | dict[str, Any]:
    """The same six checks, hand-written on plain dicts: the speed floor."""
    if not region_id:
        return "MISSING_REGION_ID"
    if not task_id:
        return "MISSING_TASK_ID"
    if region_id not in regions:
        return "REGION_NOT_FOUND"
    task = tasks.get((region_id, task_id))
    if task is None or task["owner"] != account:
        return "TASK_NOT_FOUND"
    if task["action"] not in _FLOOR_ACTIONS:
        return "ACTION_NOT_SUPPORTED"
    if task["status"] not in _FLOOR_STATUSES:
        return "INCORRECT_TASK_STATUS"
    return task


def _outcome(decision: Accepted | Rejected | str | dict[str, Any]) -> str:
    if isinstance(decision, Rejected):
        return decision.reason.value
    if isinstance(decision, str):
        return decision
    return "ACCEPTED"


KINDS = [
    "ACCEPTED",
    "MISSING_REGION_ID",
    "MISSING_TASK_ID",
    "REGION_NOT_FOUND",
    "TASK_NOT_FOUND",
    "ACTION_NOT_SUPPORTED",
    "INCORRECT_TASK_STATUS",
]


def population(n_tasks: int, n_requests: int) -> tuple[list[Task], list[CancelRequest]]:
    """A world of tasks, and requests giving accepted and every rejection in equal shares."""
    rng = random.Random(2017)
    tasks: list[Task] = []
    for i in range(n_tasks):
        tasks.append(
            Task(
                task_id=task_id(rng),
                region_id=REGIONS[i % len(REGIONS)],
                action=rng.choice(list(TaskAction)),
                status=rng.choice(list(TaskStatus)),
                owner=ACCOUNT if rng.random() < 0.9 else "someone-else",
                creation_time=T0 + timedelta(seconds=i),
            )
        )
    by_kind: dict[str, list[Task]] = {}
    for t in tasks:
        request = CancelRequest(t.region_id, t.task_id)
        kind = _outcome(decide(request, DictWorld([t], regions=REGIONS), account=ACCOUNT))
        by_kind.setdefault(kind, []).append(t)
    requests: list[CancelRequest] = []
    for i in range(n_requests):
        kind = KINDS[i % len(KINDS)]
        if kind == "MISSING_REGION_ID":
            requests.append(CancelRequest(rng.choice([None, ""]), task_id(rng)))
        elif kind == "MISSING_TASK_ID":
            requests.append(CancelRequest(rng.choice(REGIONS), rng.choice([None, ""])))
        elif kind == "REGION_NOT_FOUND":
            requests.append(CancelRequest("xx-nowhere-1", task_id(rng)))
        elif kind == "TASK_NOT_FOUND" and i % 2:
            requests.append(CancelRequest(rng.choice(REGIONS), task_id(rng)))  # no such id
        else:  # TASK_NOT_FOUND via another tenant's task, and the task-bound outcomes
            t = rng.choice(by_kind[kind])
            requests.append(CancelRequest(t.region_id, t.task_id))
    rng.shuffle(requests)
    return tasks, requests


def _floor_world(tasks: Iterable[Task]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (t.region_id, t.task_id): {
            "action": t.action.value,
            "status": t.status.value,
            "owner": t.owner,
        }
        for t in tasks
    }


def _timed(loops: dict[str, Callable[[], None]], calls: int, repeat: int) -> dict[str, float]:
    """Best ns/call of each loop; measurements interleaved so drift affects all alike."""
    results: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(repeat):
        for name, loop in loops.items():
            results[name].append(best_ns_per_call(loop, calls, 1))
    return {name: min(values) for name, values in results.items()}


def bench_decide(n_tasks: int, n_requests: int, repeat: int) -> dict[str, Any]:
    tasks, requests = population(n_tasks, n_requests)
    store = MemoryStore(tasks, regions=REGIONS)
    dict_world = DictWorld(tasks, regions=REGIONS)
    floor_regions = set(REGIONS)
    floor_tasks = _floor_world(tasks)
    plain = [(r.region_id, r.task_id) for r in requests]
    # Same answers from all of them before timing anything.
    expect = [_outcome(decide(r, store, account=ACCOUNT)) for r in requests]
    assert expect == [_outcome(decide(r, dict_world, account=ACCOUNT)) for r in requests]
    assert expect == [
        _outcome(floor_decide(a, b, ACCOUNT, floor_regions, floor_tasks)) for a, b in plain
    ]
    mix = {k: expect.count(k) for k in KINDS}

    def run_store() -> None:
        for r in requests:
            decide(r, store, account=ACCOUNT)

    def run_dict_world() -> None:
        for r in requests:
            decide(r, dict_world, account=ACCOUNT)

    def run_floor() -> None:
        for a, b in plain:
            floor_decide(a, b, ACCOUNT, floor_regions, floor_tasks)

    def run_empty() -> None:
        for _r in requests:
            pass

    best = _timed(
        {
            "floor": run_floor,
            "store": run_store,
            "dict": run_dict_world,
            "empty": run_empty,
        },
        len(requests),
        repeat,
    )

    # Cost breakdown: what one decide() call spends on each of its parts.
    t = next(
        x
        for x in tasks
        if _outcome(decide(CancelRequest(x.region_id, x.task_id), store, account=ACCOUNT))
        == "ACCEPTED"
    )
    accepted_request = CancelRequest(t.region_id, t.task_id)
    unknown_region = CancelRequest("xx-nowhere-1", t.task_id)
    reason = Reason.TASK_NOT_FOUND
    region, tid = t.region_id, t.task_id
    action, actions = t.action, DEFAULT_POLICY.cancellable_actions
    action_value, action_values = t.action.value, _FLOOR_ACTIONS
    calls = 200_000
    parts = {
        "decide(), accepted": lambda: decide(accepted_request, store, account=ACCOUNT),
        "decide(), unknown region": lambda: decide(unknown_region, store, account=ACCOUNT),
        "floor, accepted": lambda: floor_decide(region, tid, ACCOUNT, floor_regions, floor_tasks),
        "Rejected(reason)  [attrs frozen __init__]": lambda: Rejected(reason),
        "Accepted(task)    [attrs frozen __init__]": lambda: Accepted(t),
        "task_at(task, None)": lambda: task_at(t, None),
        "store.has_region(r)": lambda: store.has_region(region),
        "store.find_task(r, t)": lambda: store.find_task(region, tid),
        "enum in policy set  [Enum.__hash__ is Python]": lambda: action in actions,
        "str in frozenset": lambda: action_value in action_values,
        "(empty lambda call)": lambda: None,
    }
    breakdown = {
        name: min(timeit.repeat(fn, number=calls, repeat=5)) / calls * 1e9
        for name, fn in parts.items()
    }
    return {
        "requests": len(requests),
        "mix": mix,
        "ns": best,
        "ratio_store": best["store"] / best["floor"],
        "ratio_dict": best["dict"] / best["floor"],
        "breakdown": breakdown,
    }


# --------------------------------------------------------------------------- 2. cancel


def bench_cancel_memory(n_tasks: int, repeat: int) -> float:
    """µs per successful Client.cancel_task through InMemoryTransport (best of repeats)."""
    rng = random.Random(7)
    timings = []
    for _ in range(repeat):
        ids = [task_id(rng) for _ in range(n_tasks)]
        store = MemoryStore(
            Task(
                task_id=i,
                region_id="cn-hangzhou",
                action="ImportImage",
                status="Processing",
                owner=ACCOUNT,
                creation_time=T0,
            )
            for i in ids
        )
        client = Client(InMemoryTransport(store, account=ACCOUNT))

        def run(client: Client = client, ids: Sequence[str] = ids) -> None:
            cancel = client.cancel_task
            for i in ids:
                cancel("cn-hangzhou", i)

        gc.collect()
        timings.append(timeit.timeit(run, number=1) / n_tasks * 1e6)
        # every call was a real cancel
        assert all(
            t.status is TaskStatus.DELETED for t in store.list_tasks("cn-hangzhou", account=ACCOUNT)
        )
    return min(timings)


def bench_cancelled_copy(n: int, repeat: int) -> dict[str, float]:
    """ns per call of :func:`apply_cancel` on an accepted task, and of the same written
    with ``attrs.evolve`` (every field re-validated)."""
    accepted = Accepted(
        Task(
            task_id="t-copy",
            region_id="cn-hangzhou",
            action="ImportImage",
            status="Processing",
            creation_time=datetime(2026, 1, 1, tzinfo=UTC),
            progress="40%",
        )
    )
    now = datetime(2026, 1, 1, 1, tzinfo=UTC)

    def shortcut() -> None:
        for _ in range(n):
            apply_cancel(accepted, now)

    def evolve() -> None:
        for _ in range(n):
            task = accepted.task
            Accepted(
                attrs.evolve(task, status=TaskStatus.DELETED, finished_time=now, schedule=None)
            )

    return _timed({"apply_cancel": shortcut, "evolve": evolve}, n, repeat)


def bench_cancel_moto(n_requests: int, repeat: int) -> float | None:
    """µs per moto EC2 cancel_spot_instance_requests (best of repeats), or None."""
    for key, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SECURITY_TOKEN", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ[key] = value
    try:
        import boto3
        from moto import mock_aws
    except ImportError as exc:  # pragma: no cover - optional baseline
        print(f"  moto/boto3 not installed ({exc}); skipping the moto baseline")
        return None
    timings = []
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        spec = {"ImageId": "ami-12c6146b", "InstanceType": "t2.micro"}

        def spot_requests(count: int) -> list[str]:
            reply = ec2.request_spot_instances(
                InstanceCount=count, SpotPrice="0.05", LaunchSpecification=spec
            )
            return [r["SpotInstanceRequestId"] for r in reply["SpotInstanceRequests"]]

        for warm in spot_requests(3):  # warm up botocore's model loading and moto's routing
            ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[warm])
        for _ in range(repeat):
            ids = spot_requests(n_requests)

            def run(ids: Sequence[str] = ids) -> None:
                for i in ids:
                    reply = ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[i])
                    assert reply["CancelledSpotInstanceRequests"][0]["State"] == "cancelled"

            gc.collect()
            timings.append(timeit.timeit(run, number=1) / n_requests * 1e6)
    return min(timings)


# --------------------------------------------------------------------------- 3. memory


def _build_store(n_tasks: int) -> MemoryStore:
    rng = random.Random(1)
    tasks = (
        Task(
            task_id=task_id(rng),
            region_id=REGIONS[i % len(REGIONS)],
            action=TaskAction.IMPORT_IMAGE if i % 2 else TaskAction.EXPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner=ACCOUNT,
            creation_time=T0 + timedelta(seconds=i),
        )
        for i in range(n_tasks)
    )
    return MemoryStore(tasks, regions=REGIONS)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def memory_child(mode: str, n_tasks: int) -> dict[str, Any]:
    """Runs in a fresh process: build the store, report bytes per task."""
    import taskcancel  # noqa: F401  (imported before the baseline)

    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start(1)
        store = _build_store(n_tasks)
        gc.collect()
        snapshot = tracemalloc.take_snapshot()
        current = sum(stat.size for stat in snapshot.statistics("filename"))
        top = []
        for stat in snapshot.statistics("lineno")[:5]:
            frame = stat.traceback[0]
            code = linecache.getline(frame.filename, frame.lineno).strip()
            where = f"{os.path.basename(frame.filename)}:{frame.lineno}  {code[:48]}"
            top.append((where, stat.size))
        tracemalloc.stop()
        assert len(store) == n_tasks
        return {"bytes_per_task": current / n_tasks, "top": top}
    before = _rss_bytes()
    store = _build_store(n_tasks)
    gc.collect()
    after = _rss_bytes()
    assert len(store) == n_tasks
    return {"bytes_per_task": (after - before) / n_tasks}


def bench_memory(n_tasks: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in ("tracemalloc", "rss"):
        proc = subprocess.run(
            [sys.executable, __file__, "--memory-child", mode, "--tasks", str(n_tasks)],
            check=True,
            capture_output=True,
            text=True,
        )
        out[mode] = json.loads(proc.stdout.strip().splitlines()[-1])
    # Sizes of the parts of one stored task, for the report.
    rng = random.Random(3)
    sample = Task(
        task_id=task_id(rng),
        region_id=REGIONS[0],
        action="ImportImage",
        status="Processing",
        owner=ACCOUNT,
        creation_time=T0,
    )
    out["parts"] = {
        "Task object": sys.getsizeof(sample),
        "task_id str": sys.getsizeof(sample.task_id),
        "creation_time datetime": sys.getsizeof(sample.creation_time),
    }
    return out


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small populations (smoke run)")
    parser.add_argument("--memory-child", choices=["tracemalloc", "rss"], help=argparse.SUPPRESS)
    parser.add_argument("--tasks", type=int, default=1_000_000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(args.memory_child, args.tasks)))
        return 0

    quick = args.quick
    print(f"taskcancel core benchmarks (python {sys.version.split()[0]})\n")

    print("1. decide() vs a hand-written floor on plain dicts")
    sizes = {
        "n_tasks": 2_000 if quick else 20_000,
        "n_requests": 7_000 if quick else 70_000,
        "repeat": 3 if quick else 7,
    }
    d = bench_decide(**sizes)
    ns = d["ns"]
    print(f"   population: {d['requests']} requests, mix {d['mix']}")
    print(f"   floor (plain dicts)             {ns['floor']:8.1f} ns/call")
    print(
        f"   decide() over MemoryStore       {ns['store']:8.1f} ns/call  "
        f"({d['ratio_store']:.2f}x floor)"
    )
    print(
        f"   decide() over a dict World      {ns['dict']:8.1f} ns/call  "
        f"({d['ratio_dict']:.2f}x floor)"
    )
    print(f"   (bare loop overhead             {ns['empty']:8.1f} ns/iteration)")
    print("   cost breakdown, ns per call:")
    for name, value in d["breakdown"].items():
        print(f"     {value:7.1f}  {name}")

    print("\n2. Client.cancel_task (in-memory) vs moto EC2 cancel_spot_instance_requests")
    mem_us = bench_cancel_memory(2_000 if quick else 20_000, 3 if quick else 5)
    moto_us = bench_cancel_moto(30 if quick else 200, 1 if quick else 3)
    print(f"   taskcancel in-memory cancel   {mem_us:10.2f} µs/call")
    if moto_us is not None:
        print(f"   moto cancel_spot_instance_req {moto_us:10.2f} µs/call")
        print(f"   speedup                       {moto_us / mem_us:10.1f}x")

    copy_ns = bench_cancelled_copy(20_000 if quick else 200_000, 3 if quick else 7)
    shortcut_us, evolve_us = copy_ns["apply_cancel"] / 1000, copy_ns["evolve"] / 1000
    saved = evolve_us - shortcut_us
    print("   apply_cancel's task copy (its valid slots copied) vs attrs.evolve (re-validated):")
    print(f"     apply_cancel  {shortcut_us:7.2f} µs   with evolve  {evolve_us:7.2f} µs")
    print(
        f"     saves {saved:.2f} µs: {100 * saved / mem_us:.0f}% of the in-memory cancel above"
        " (the shortcut stays only while it saves >= 2% of a served cancel, ~50 µs)"
    )

    n_mem = 100_000 if quick else 1_000_000
    print(f"\n3. memory per task, {n_mem:,} tasks in a MemoryStore")
    m = bench_memory(n_mem)
    print(f"   tracemalloc                   {m['tracemalloc']['bytes_per_task']:8.1f} B/task")
    print(f"   RSS delta                     {m['rss']['bytes_per_task']:8.1f} B/task")
    print("   top allocation sites (tracemalloc):")
    for where, size in m["tracemalloc"]["top"]:
        print(f"     {size / n_mem:7.1f} B/task  {where}")
    print("   sizes of one task's parts: " + ", ".join(f"{k} {v} B" for k, v in m["parts"].items()))

    rows = [
        (
            "in-memory cancel vs moto",
            "n/a" if moto_us is None else f"{moto_us / mem_us:.0f}x faster",
            ">= 100x",
            moto_us is not None and moto_us / mem_us >= 100,
        ),
        (
            "bytes/task (tracemalloc)",
            f"{m['tracemalloc']['bytes_per_task']:.0f} B",
            "< 400 B",
            m["tracemalloc"]["bytes_per_task"] < 400,
        ),
    ]
    print("\nSummary")
    print(f"  {'benchmark':<28} {'measured':>16}  {'target':>9}  met")
    print(f"  {'-' * 28} {'-' * 16}  {'-' * 9}  ---")
    for name, measured, target, met in rows:
        print(f"  {name:<28} {measured:>16}  {target:>9}  {'yes' if met else 'NO'}")
    print(
        f"  (decide {ns['store']:.0f} ns vs floor {ns['floor']:.0f} ns; cancel "
        f"{mem_us:.1f} µs vs moto {moto_us or float('nan'):.0f} µs; RSS "
        f"{m['rss']['bytes_per_task']:.0f} B/task)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
