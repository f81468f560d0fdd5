"""Per-call cost against tenant size: DescribeTasks, ImportImage, CancelTask, both stores.

Run: ``python benchmarks/bench_tenant.py [--quick] [--dir DIR]``. Prints microseconds per
call for an account holding 100, 1,000 and 10,000 tasks in one region (10,000 is the
default per-region quota), on MemoryStore and on SqliteStore (a file on disk, WAL,
``synchronous=NORMAL``), side by side, and the ratio of 10,000 to 100 for each (target:
flat, within 2x). Asserts nothing.

The actions are called in-process through :func:`taskcancel._actions.dispatch`, the
function every transport and the emulator call, so what is measured is the action and
the store -- no HTTP, no signing. Each figure is the best of several rounds of calls
(each round its mean per call). In every world the caller's tasks are half scheduled
(their status is computed from the clock) and half plain, and another account holds
1,000 tasks in the same region.

- ``DescribeTasks p1``: the first page (PageSize 10), TotalCount included;
- ``DescribeTasks last``: the last page (PageSize 100); SQLite walks OFFSET rows of the
  index to get there, MemoryStore slices its sorted ids;
- ``DescribeTasks TaskIds``: 10 ids named;
- ``DescribeTasks Status``: the TaskStatus filter, which needs every task's status as of
  now: linear in the account's tasks by design (listed for information, no target);
- ``ImportImage``: a new task (quota counted, then checked again with the insert);
- ``CancelTask``: a successful cancel of a running task.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from taskcancel import MemoryStore, Schedule, Store, Task, TaskAction, TaskStatus
from taskcancel._actions import ActionContext, IdGenerator, dispatch
from taskcancel._sqlite import SqliteStore

REGION = "cn-hangzhou"
ACCOUNT = "tenant-a"
NEIGHBOUR = "tenant-b"
SIZES = (100, 1_000, 10_000)
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NOW = T0 + timedelta(hours=1)
#: Scheduled tasks stay Processing (cancellable) for the whole run.
LONG = Schedule(queued_seconds=0, processing_seconds=10**8)


def world(size: int) -> list[Task]:
    def make(owner: str, i: int) -> Task:
        return Task(
            task_id=f"t-{owner[-1]}{i:07d}",
            region_id=REGION,
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner=owner,
            creation_time=T0,
            resource_id=f"m-{i:07d}",
            progress="10%",
            schedule=LONG if i % 2 else None,
        )

    return [make(ACCOUNT, i) for i in range(size)] + [make(NEIGHBOUR, i) for i in range(1_000)]


def clock() -> datetime:
    return NOW


@contextmanager
def opened(kind: str, size: int, directory: Path) -> Iterator[Store]:
    store: Store
    if kind == "memory":
        store = MemoryStore(world(size), clock=clock)
    else:
        store = SqliteStore(directory / f"tenant-{size}.db", world(size), clock=clock)
    try:
        yield store
    finally:
        store.close()


def per_call(calls: Callable[[], int], rounds: int) -> float:
    """Best of ``rounds`` of the mean microseconds per call; ``calls()`` returns how many."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        count = calls()
        best = min(best, (time.perf_counter() - start) / count * 1e6)
    return best


def measure(store: Store, size: int, calls: int, rounds: int) -> dict[str, float]:
    ctx = ActionContext(store=store, account=ACCOUNT, ids=IdGenerator(size), max_tasks=10**9)
    ids = [f"t-a{i:07d}" for i in range(size)]
    running = iter(ids)  # every task is cancelled at most once
    last_page = str((size + 99) // 100)
    named = ",".join(ids[:: max(1, size // 10)][:10])

    def repeat(params: dict[str, str], action: str = "DescribeTasks") -> Callable[[], int]:
        def run() -> int:
            for _ in range(calls):
                reply = dispatch(ctx, action, params)
                assert isinstance(reply, dict), reply
            return calls

        return run

    def cancel() -> int:
        batch = list(itertools.islice(running, max(1, min(calls, size // (rounds * 2)))))
        for task_id in batch:
            reply = dispatch(ctx, "CancelTask", {"RegionId": REGION, "TaskId": task_id})
            assert reply == {}, reply
        return len(batch)

    base = {"RegionId": REGION}
    return {
        "DescribeTasks p1": per_call(repeat(base), rounds),
        "DescribeTasks last": per_call(
            repeat({**base, "PageSize": "100", "PageNumber": last_page}), rounds
        ),
        "DescribeTasks TaskIds": per_call(repeat({**base, "TaskIds": named}), rounds),
        "DescribeTasks Status": per_call(
            repeat({**base, "TaskStatus": "Processing"}), max(1, rounds // 2)
        ),
        "ImportImage": per_call(
            repeat(
                {
                    **base,
                    "DiskDeviceMapping.1.OSSBucket": "b",
                    "DiskDeviceMapping.1.OSSObject": "o",
                },
                "ImportImage",
            ),
            rounds,
        ),
        "CancelTask": per_call(cancel, rounds),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--dir", type=Path, help="where the SQLite files go (default: a temp dir)")
    args = parser.parse_args(argv)
    calls, rounds = (50, 3) if args.quick else (200, 7)
    print(
        f"bench_tenant: Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{calls} calls x best of {rounds} rounds; microseconds per call"
    )
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        for kind, size in itertools.product(("memory", "sqlite"), SIZES):
            with opened(kind, size, Path(tmp)) as store:
                results[kind, size] = measure(store, size, calls, rounds)
    names = list(results["memory", SIZES[0]])
    header = f"{'call':<22}" + "".join(
        f"{f'{kind} {size:,}':>15}" for kind in ("memory", "sqlite") for size in SIZES
    )
    print(header + f"{'mem 10k/100':>13}{'sql 10k/100':>13}")
    summary: list[tuple[str, float, bool]] = []
    for name in names:
        row = f"{name:<22}"
        for kind in ("memory", "sqlite"):
            for size in SIZES:
                row += f"{results[kind, size][name]:>15.1f}"
        for kind in ("memory", "sqlite"):
            ratio = results[kind, SIZES[-1]][name] / results[kind, SIZES[0]][name]
            row += f"{ratio:>12.2f}x"
            if name != "DescribeTasks Status":
                summary.append((f"{kind} {name}", ratio, ratio <= 2.0))
        print(row)
    print()
    print(f"{'benchmark (10,000 vs 100 tasks)':<40}{'ratio':>8}  target  met")
    for label, ratio, met in summary:
        print(f"{label:<40}{ratio:>7.2f}x  <= 2x   {'yes' if met else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
