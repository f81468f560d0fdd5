"""Benchmark the ``ecs_emulator`` fixture: per-test overhead before and after the shared server.

Run: ``python benchmarks/bench_fixture.py`` (under a minute; ``--quick``: a few seconds).
Prints figures side by side; asserts nothing.

*Before*: what the fixture did until it shared a server -- a fresh
:class:`~taskcancel.testing.EmulatorServer` started (bind, thread, event loop, ready)
and stopped for every test. *After*: what it does now -- one server for the session,
and before each test ``SharedEmulator.checkout()``: the control plane's reset (store,
clock, accounts, faults, nonces) plus the check that nothing a reset cannot restore
was changed.

1. The fixture's own cost per test, measured directly (median of many rounds).
2. Real pytest runs of a generated suite of N empty tests that take ``ecs_emulator``:
   the time pytest spends in each test's set-up and tear-down (hook wrappers sum it),
   with the plugin as it is and with a ``conftest.py`` that restores the old fixture,
   minus the same with an ``ecs_emulator`` that does all the fixture does but serve
   (pytest's own bookkeeping, ``monkeypatch`` unsetting the proxy variables). Best of
   3 runs each.
3. For scale (no target): the same as 1 plus the one signed call a test makes first,
   whose cost is mostly the test's own client (an httpx client and its connection).

Target: at least 10x less overhead per test after than before (1 and 2).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from taskcancel.testing import EmulatorServer, FakeClock
from taskcancel.testing._shared import SharedEmulator

__all__ = ["main"]

TARGET = 10.0

SUITE = """
import pytest

@pytest.mark.parametrize("n", range({n}))
def test_nothing(n, {fixture}):
    pass
"""

#: Times pytest's set-up plus tear-down of each test, fixtures included (the session's
#: server starts in the first set-up and stops in the last tear-down).
TIMING = """
import json
import time

import pytest

TIMES = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    began = time.perf_counter()
    yield
    TIMES[item.nodeid] = time.perf_counter() - began


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    began = time.perf_counter()
    yield
    TIMES[item.nodeid] += time.perf_counter() - began


def pytest_sessionfinish(session):
    with open("fixture-seconds.json", "w") as out:
        json.dump(list(TIMES.values()), out)
"""

#: The fixture with everything but a server: what pytest itself costs.
NO_SERVER = """
from taskcancel.testing import PROXY_VARIABLES


@pytest.fixture
def ecs_emulator(ecs_clock, monkeypatch, _ecs_shared):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield None
"""

#: The fixture as it was before it shared a server.
OLD_FIXTURE = """
from taskcancel.testing import EmulatorServer, PROXY_VARIABLES


@pytest.fixture
def ecs_emulator(ecs_clock, monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with EmulatorServer(clock=ecs_clock) as server:
        yield server
"""


def _median_seconds(step: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _fresh_server(call: bool) -> Callable[[], object]:
    def step() -> None:
        with EmulatorServer(clock=FakeClock()) as server:
            if call:
                with server.client() as client:
                    client.describe_tasks("cn-hangzhou")

    return step


def _shared_server(shared: SharedEmulator, call: bool) -> Callable[[], object]:
    def step() -> None:
        server = shared.checkout()
        if call:
            with server.client() as client:
                client.describe_tasks("cn-hangzhou")

    return step


def _pytest_seconds(
    directory: Path, n: int, kind: str, conftest: str, repeats: int
) -> tuple[float, float]:
    """(median, mean) set-up plus tear-down seconds per test in real pytest runs.

    The mean carries the session's one-time costs (a server's start and stop); each
    figure is the best of ``repeats`` runs.
    """
    suite = directory / kind
    suite.mkdir()
    (suite / "test_suite.py").write_text(SUITE.format(n=n, fixture="ecs_emulator"), "utf-8")
    (suite / "conftest.py").write_text(TIMING + conftest, encoding="utf-8")
    medians, means = [], []
    for _ in range(repeats):
        run = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_suite.py"],
            cwd=suite,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if run.returncode != 0 or f"{n} passed" not in run.stdout:
            raise RuntimeError(f"the generated suite failed:\n{run.stdout}\n{run.stderr}")
        times = json.loads((suite / "fixture-seconds.json").read_text())
        medians.append(statistics.median(times))
        means.append(statistics.fmean(times))
    return min(medians), min(means)


Row = tuple[str, float, float]


def _print_rows(title: str, rows: list[Row]) -> None:
    print(f"\n{title}")
    print(f"  {'':<42} {'before':>12} {'after':>12} {'ratio':>8}")
    for label, before, after in rows:
        print(f"  {label:<42} {before * 1e3:9.3f} ms {after * 1e3:9.3f} ms {before / after:7.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and tests")
    args = parser.parse_args()
    rounds, tests, repeats = (20, 100, 1) if args.quick else (200, 500, 3)

    _fresh_server(call=True)()  # warm up: imports, the first event loop, the first client
    shared = SharedEmulator()
    try:
        _shared_server(shared, call=True)()
        direct = (
            "fixture set-up + tear-down (direct)",
            _median_seconds(_fresh_server(call=False), rounds),
            _median_seconds(_shared_server(shared, call=False), rounds),
        )
        with_call = (
            "... + the test's first signed call",
            _median_seconds(_fresh_server(call=True), rounds),
            _median_seconds(_shared_server(shared, call=True), rounds),
        )
    finally:
        shared.close()

    with tempfile.TemporaryDirectory() as name:
        directory = Path(name)
        bare = _pytest_seconds(directory, tests, "no-server", NO_SERVER, repeats)
        old = _pytest_seconds(directory, tests, "old", OLD_FIXTURE, repeats)
        new = _pytest_seconds(directory, tests, "new", "", repeats)
    in_pytest = ("in pytest (median test)", old[0] - bare[0], new[0] - bare[0])
    in_pytest_mean = (
        "in pytest (mean, with the one-time start)",
        old[1] - bare[1],
        new[1] - bare[1],
    )

    _print_rows(f"per-test overhead of ecs_emulator (direct: median of {rounds})", [direct])
    _print_rows(
        f"pytest runs of {tests} empty tests: set-up + tear-down per test, minus the same "
        f"fixture without a server (median {bare[0] * 1e3:.3f} ms; best of {repeats})",
        [in_pytest, in_pytest_mean],
    )
    _print_rows("for scale: with the test's first signed call (no target)", [with_call])

    print(f"\n{'benchmark':<44} {'measured':>10} {'target':>8} {'met':>5}")
    for label, before, after in (direct, in_pytest, in_pytest_mean):
        ratio = before / after
        met = "yes" if ratio >= TARGET else "NO"
        print(f"{label:<44} {ratio:9.1f}x {'>=10x':>8} {met:>5}")


if __name__ == "__main__":
    main()
