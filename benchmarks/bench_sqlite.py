"""Cancels per second: SqliteStore on disk against MemoryStore, side by side in one run.

Run: ``python benchmarks/bench_sqlite.py [--cancels N] [--dir DIR]``. Prints rates and
ratios; asserts nothing (timings depend on the machine and its disk). Measured:

- one writer: N successful cancels of pre-created ``Processing`` tasks, on MemoryStore
  and on SqliteStore (WAL, ``synchronous=NORMAL``: survives a process crash) in a file
  in a temporary directory on disk;
- the same with ``synchronous=FULL`` (fsync per commit: survives power loss), on fewer
  cancels because each one waits for the disk;
- 1, 2 and 4 writer processes on one file, each cancelling its own share of the tasks;
  the aggregate rate is all cancels over the span from the first start to the last end
  (process start-up excluded: workers open the store, then wait at a barrier).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from taskcancel import Accepted, CancelRequest, MemoryStore, Store, Task, TaskAction, TaskStatus
from taskcancel._store.sqlite import SqliteStore

REGION = "cn-hangzhou"


def processing_tasks(count: int) -> list[Task]:
    return [
        Task(
            task_id=f"t-{i:06d}",
            region_id=REGION,
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
        )
        for i in range(count)
    ]


def cancel_all(store: Store, ids: Sequence[str]) -> tuple[int, float]:
    """Cancel every task; (successes, seconds)."""
    accepted = 0
    start = time.perf_counter()
    for task_id in ids:
        if isinstance(store.cancel(CancelRequest(REGION, task_id)), Accepted):
            accepted += 1
    return accepted, time.perf_counter() - start


def single_writer(store: Store, count: int) -> tuple[float, int]:
    ids = [f"t-{i:06d}" for i in range(count)]
    store.find_task(REGION, ids[0])  # open the connection outside the timing
    accepted, seconds = cancel_all(store, ids)
    return accepted / seconds, accepted


def _worker(path: str, ids: list[str], barrier: Barrier, results: Any) -> None:
    with SqliteStore(path) as store:
        store.find_task(REGION, ids[0])
        barrier.wait()
        began = time.time()
        accepted, _ = cancel_all(store, ids)
        results.put((began, time.time(), accepted))


def multi_writer(directory: Path, processes: int, total: int) -> tuple[float, int]:
    path = directory / f"writers-{processes}.db"
    SqliteStore(path, processing_tasks(total)).close()
    ids = [f"t-{i:06d}" for i in range(total)]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(str(path), ids[n::processes], barrier, results))
        for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    spans = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join()
    accepted = sum(span[2] for span in spans)
    seconds = max(span[1] for span in spans) - min(span[0] for span in spans)
    return accepted / seconds, accepted


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cancels", type=int, default=5000, help="cancels per measurement")
    parser.add_argument("--full-cancels", type=int, default=1000, help="cancels with FULL")
    parser.add_argument("--dir", default=None, help="directory for the store files")
    args = parser.parse_args(argv)
    n = args.cancels

    print(
        f"taskcancel SqliteStore benchmark: Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs, {sys.platform}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-sqlite-", dir=args.dir) as tmp:
        directory = Path(tmp)
        print(f"store files in {directory} (on disk); successful cancels only\n")

        memory_rate, memory_ok = single_writer(MemoryStore(processing_tasks(n)), n)
        with SqliteStore(directory / "normal.db", processing_tasks(n)) as store:
            normal_rate, normal_ok = single_writer(store, n)
        full_n = args.full_cancels
        with SqliteStore(directory / "full.db", processing_tasks(full_n), synchronous="FULL") as s:
            full_rate, full_ok = single_writer(s, full_n)

        print("one writer")
        print(
            f"  MemoryStore                        {memory_rate:>10,.0f} cancels/s  ({memory_ok})"
        )
        print(
            f"  SqliteStore WAL synchronous=NORMAL {normal_rate:>10,.0f} cancels/s  ({normal_ok})"
            f"  = {normal_rate / memory_rate:.3f} x MemoryStore"
            f" ({memory_rate / normal_rate:.1f}x slower)"
        )
        print(
            f"  SqliteStore WAL synchronous=FULL   {full_rate:>10,.0f} cancels/s  ({full_ok})"
            f"  = {full_rate / normal_rate:.3f} x NORMAL"
        )

        print(f"\nwriter processes on one file (synchronous=NORMAL, {2 * n} cancels split evenly)")
        base = 0.0
        for processes in (1, 2, 4):
            rate, accepted = multi_writer(directory, processes, 2 * n)
            base = base or rate
            print(
                f"  {processes} process{'es' if processes > 1 else '  '}"
                f"  {rate:>10,.0f} cancels/s aggregate  ({accepted})"
                f"  = {rate / base:.2f} x one process"
            )


if __name__ == "__main__":
    main()
