"""Benchmark start-up: what a container or a CI job waits for before the emulator answers.

Run: ``python benchmarks/bench_startup.py [--runs N]``. Prints figures; asserts nothing.

- ``taskcancel serve`` (demo world, in-memory store, port 0) from exec to its
  ``listening on`` log line, median of N runs (target: 0.3 s on 2 cores);
- ``taskcancel --version`` from exec to exit, median of N runs;
- the import of ``taskcancel.cli`` by ``python -X importtime`` (cumulative, median of N),
  with the ten slowest modules of one run, and an interpreter that imports nothing
  (``python -c pass``) for scale.

Each run is a fresh process of ``sys.executable -m taskcancel``, importing the checkout
on ``PYTHONPATH`` (else the installed package), with its bytecode cached (in a temporary
``PYTHONPYCACHEPREFIX``, as an installed wheel or the container image has it). The serve
figure is also given without bytecode (``PYTHONDONTWRITEBYTECODE=1``, every module
compiled at every start, as a checkout runs when that variable is set).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time

__all__ = ["main"]

_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


_PYCACHE = tempfile.mkdtemp(prefix="taskcancel-bench-pycache-")
#: The children's working directory: not the checkout, whose ``taskcancel`` would shadow
#: the one on PYTHONPATH (``-m`` and ``-c`` put the working directory first on sys.path).
_CWD = tempfile.gettempdir()
_BYTECODE = True


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    if _BYTECODE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _PYCACHE
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_cpu: list[float] = []  # CPU seconds to 'listening on', one per serve_to_listening()


def serve_to_listening() -> float:
    """Seconds from exec of ``taskcancel serve`` to its ``listening on`` line (and the CPU
    seconds it used by then appended to ``_cpu``: on a shared machine wall time waits
    for a core, CPU time does not)."""
    command = [sys.executable, "-m", "taskcancel", "serve", "--port", "0", "--log-level", "info"]
    began = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=_env(),
        cwd=_CWD,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if "listening on" in line:
                elapsed = time.perf_counter() - began
                _cpu.append(_cpu_seconds(process.pid))
                return elapsed
        raise RuntimeError(f"taskcancel serve exited {process.wait()} before listening")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wall(*args: str) -> tuple[float, float]:
    """Seconds from exec to exit of ``python ARGS``: wall, and CPU (user + system)."""
    cpu = _children_cpu()
    began = time.perf_counter()
    subprocess.run([sys.executable, *args], env=_env(), cwd=_CWD, check=True, capture_output=True)
    return time.perf_counter() - began, _children_cpu() - cpu


def cli_import() -> tuple[float, list[tuple[float, str]]]:
    """``import taskcancel.cli``: cumulative seconds, and (self seconds, module) of each."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import taskcancel.cli"],
        env=_env(),
        cwd=_CWD,
        check=True,
        capture_output=True,
        text=True,
    )
    modules, total = [], 0.0
    for match in _IMPORT_LINE.finditer(done.stderr):
        own, cumulative, _, name = match.groups()
        modules.append((int(own) / 1e6, name))
        if name == "taskcancel.cli":
            total = int(cumulative) / 1e6
    return total, modules


def main() -> None:
    global _BYTECODE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="runs per figure (median)")
    runs = parser.parse_args().runs
    serve_to_listening()  # warm the page cache and the bytecode cache
    _cpu.clear()
    listening = statistics.median(serve_to_listening() for _ in range(runs))
    listening_cpu = statistics.median(_cpu)
    versions = [wall("-m", "taskcancel", "--version") for _ in range(runs)]
    version = statistics.median(seconds for seconds, _ in versions)
    version_cpu = statistics.median(cpu for _, cpu in versions)
    bare = statistics.median(seconds for seconds, _ in (wall("-c", "pass") for _ in range(runs)))
    imports = [cli_import() for _ in range(runs)]
    cli = statistics.median(total for total, _ in imports)
    slowest = sorted(imports[-1][1], reverse=True)[:10]
    _BYTECODE = False
    uncompiled = statistics.median(serve_to_listening() for _ in range(runs))
    _BYTECODE = True

    print(f"python {sys.version.split()[0]} on {os.cpu_count()} CPUs, median of {runs} runs")
    print(f"  python -c pass (interpreter alone)          {bare * 1000:8.1f} ms")
    print(f"  taskcancel --version, exec to exit          {version * 1000:8.1f} ms")
    print(f"    ... CPU time (user + system)              {version_cpu * 1000:8.1f} ms")
    print(f"  import taskcancel.cli (-X importtime)       {cli * 1000:8.1f} ms")
    print(f"  taskcancel serve, exec to 'listening on'    {listening * 1000:8.1f} ms")
    print(f"    ... CPU time (user + system) by then      {listening_cpu * 1000:8.1f} ms")
    print(f"    ... without bytecode (compiling it all)   {uncompiled * 1000:8.1f} ms")
    print("slowest modules by own import time (one run):")
    for seconds, name in slowest:
        print(f"  {seconds * 1000:7.1f} ms  {name}")
    print()
    print(f"{'benchmark':<40} {'measured':>10} {'target':>10}  met")
    met = "yes" if listening <= 0.3 else "NO"
    print(f"{'serve: exec to listening on':<40} {listening * 1000:8.1f}ms {'300.0ms':>10}  {met}")


if __name__ == "__main__":
    main()
