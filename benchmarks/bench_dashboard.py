"""What an open dashboard costs the emulator under signed-cancel load (target: <= 5%).

    python benchmarks/bench_dashboard.py [--requests 40000] [--duration 6] [--rounds 3]
        [--connections 16]

Each run starts a fresh ``taskcancel serve --world FILE --log-level warning`` (one
Processing ImportImage task per pre-signed request, as ``bench_emulator.py``) and loads it
for ``--duration`` seconds with ``wrk`` (``wrk_signed.lua``: each request a real,
successful cancel) over ``--connections`` connections; without wrk on PATH, this process
sends every request once over that many keep-alive connections (it cannot saturate the
server: the figure then overstates the page's share). Runs
alternate: without a page, and with a simulated page making the dashboard's own fetches
(``taskcancel/server/ui/app.js``) on a thread of its own: ``health`` once; ``state`` and
``faults`` on each change, no closer than 300 ms and 0.2 ms per task apart; the
journal's long-poll ``requests?Since=N&Limit=1&WaitSeconds=20`` then the newest 200
entries, pausing 200 ms after each batch, 800 ms after a full one (an emulator without
the journal route gets the page's fallback: ``state`` every second). The figure is the
server process's CPU time (user + system, ``/proc``) per
request during the load, best round of each; the ratio "with page / without" is what
the page adds. The page's first load (every entry, the whole world) is done before the
measured run starts: what is measured is a page left open. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_emulator  # noqa: E402  (benchmarks/ is not a package)
from _wrk import cpu_seconds, run_wrk  # noqa: E402

from taskcancel.testing import ServeProcess, clean_env  # noqa: E402

MIN_GAP, GAP_PER_TASK, BATCH_PAUSE, WAIT_SECONDS = 0.3, 0.0002, 0.2, 20
BATCH_LIMIT, BUSY_PAUSE = 200, 0.8


def _get(conn: http.client.HTTPConnection, route: str) -> tuple[int, bytes]:
    conn.request("GET", "/_taskcancel/" + route, headers={"Accept": "application/json"})
    reply = conn.getresponse()
    return reply.status, reply.read()


class Poller:
    """The page's fetches, on a thread, until :meth:`stop`; counts what it fetched."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.done = threading.Event()
        self.ready = threading.Event()  # the first load is done
        self.fetches = {"state": 0, "faults": 0, "requests": 0}
        self.entries = 0
        self._threads = [threading.Thread(target=self._run, daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self.done.set()
        for thread in self._threads:
            thread.join(timeout=WAIT_SECONDS + 5)

    def _refresher(self) -> Callable[[], None]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        state: dict[str, float] = {"last": 0.0, "gap": MIN_GAP, "faults": 1.0}

        def refresh() -> None:
            if time.monotonic() < state["last"] + state["gap"]:
                return
            started = time.monotonic()
            _, body = _get(conn, "state")
            self.fetches["state"] += 1
            tasks = len(json.loads(body).get("Tasks", []))
            if state["faults"]:
                status, _ = _get(conn, "faults")
                self.fetches["faults"] += 1
                state["faults"] = float(status not in (404, 405))
            state["last"] = started
            state["gap"] = max(MIN_GAP, GAP_PER_TASK * tasks)

        return refresh

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=WAIT_SECONDS + 10)
        _get(conn, "health")
        refresh = self._refresher()
        refresh()
        status, body = _get(conn, "requests")
        if status in (404, 405):  # no journal: the page's fallback
            self.ready.set()
            while not self.done.wait(1.0):
                refresh()
            return
        document = json.loads(body)
        since = max((entry["Seq"] for entry in document["Requests"]), default=0)
        self.ready.set()
        while not self.done.is_set():
            route = f"requests?Since={since}&Limit=1&WaitSeconds={WAIT_SECONDS}"
            status, body = _get(conn, route)
            self.fetches["requests"] += 1
            if status != 200 or not json.loads(body).get("Requests"):
                continue
            _, body = _get(conn, f"requests?Limit={BATCH_LIMIT}")
            self.fetches["requests"] += 1
            fresh = [e for e in json.loads(body)["Requests"] if e["Seq"] > since]
            if fresh:
                since = fresh[-1]["Seq"]
                self.entries += len(fresh)
                refresh()
            self.done.wait(BUSY_PAUSE if len(fresh) >= BATCH_LIMIT else BATCH_PAUSE)


def load(port: int, targets: list[str], connections: int) -> None:
    """Send every target once over ``connections`` keep-alive connections; all must be 200."""
    failures: list[str] = []

    def send(part: list[str]) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        for target in part:
            conn.request("POST", target, body=b"")
            reply = conn.getresponse()
            body = reply.read()
            if reply.status != 200:
                failures.append(f"HTTP {reply.status}: {body[:200]!r}")
                return
        conn.close()

    threads = [
        threading.Thread(target=send, args=(targets[i::connections],)) for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"the load was not all successful cancels: {failures[0]}")


def measure(
    workdir: str, requests_file: str, targets: list[str], args: argparse.Namespace, page: bool
) -> tuple[float, float, float]:
    """One run: the server's CPU µs per request, its CPU use (cores) and requests/s."""
    world = os.path.join(workdir, "world.json")
    command = ["--port", "0", "--world", world, "--log-level", "warning"]
    log = Path(workdir) / "serve.log"
    with ServeProcess(command, env=clean_env(), log_path=log, timeout=600) as served:
        bench_emulator.probe(served.port)
        poller = Poller(served.port) if page else None
        if poller is not None:
            poller.start()
            if not poller.ready.wait(120):
                raise RuntimeError("the simulated page did not load")
        pid = served.process.pid
        fetched = dict(poller.fetches) if poller is not None else {}
        before, began = cpu_seconds(pid), time.monotonic()
        if shutil.which("wrk"):  # saturating, as bench_emulator.py loads the server
            result = run_wrk(
                served.port,
                requests_file,
                seconds=args.duration,
                connections=args.connections,
                offset=0,
            )
            if result.non2xx or result.socket_errors or result.wraps:
                raise RuntimeError(f"the load was not all successful cancels: {result}")
            count = result.requests
        else:
            load(served.port, targets, args.connections)
            count = len(targets)
        spent, wall = cpu_seconds(pid) - before, time.monotonic() - began
        if poller is not None:
            poller.stop()
            during = {name: n - fetched[name] for name, n in poller.fetches.items()}
            print(f"    the page fetched during the load: {during}; {poller.entries} entries")
    return spent / count * 1e6, spent / wall, count / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=40_000, help="pre-signed, one task each")
    parser.add_argument("--duration", type=int, default=6, help="seconds of wrk load a run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    tool = "wrk" if shutil.which("wrk") else "this process (no wrk on PATH)"
    with tempfile.TemporaryDirectory() as workdir:
        requests_file = os.path.join(workdir, "requests.txt")
        bench_emulator.write_requests(requests_file, args.requests)
        bench_emulator.write_world(os.path.join(workdir, "world.json"), args.requests)
        targets = Path(requests_file).read_text().split()
        results: dict[bool, list[float]] = {False: [], True: []}
        for round_ in range(args.rounds):
            for page in (False, True):
                cpu, cores, rate = measure(workdir, requests_file, targets, args, page)
                results[page].append(cpu)
                label = "with page" if page else "no page  "
                print(
                    f"round {round_ + 1}: {label} {cpu:7.1f} cpu µs/request "
                    f"({rate:,.0f} requests/s, server at {cores:.2f} cores)"
                )
    without, with_page = min(results[False]), min(results[True])
    print(f"\nsigned CancelTask load from {tool}, {args.connections} connections, world of")
    print(f"{args.requests:,} tasks; best of {args.rounds}:")
    print(f"no page {without:.1f} cpu µs/request, page open {with_page:.1f}")
    print(f"page open / no page: {with_page / without:.3f} (target <= 1.05)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
