"""Benchmark support: one wrk run over a file of request targets, and a process's CPU time."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

LUA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wrk_signed.lua")
_RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)
_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    """One wrk run (``cpu_us``: the server's CPU seconds in it, per request, in µs)."""

    requests: int
    duration_us: int
    non2xx: int
    socket_errors: int
    wraps: int
    p50_us: int
    p99_us: int
    cpu_us: float = 0.0

    @property
    def rate(self) -> float:
        return self.requests / (self.duration_us / 1e6)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def run_wrk(
    port: int,
    requests_file: str,
    *,
    seconds: int,
    connections: int,
    offset: int,
    headers: Sequence[str] = (),
) -> Result:
    """``wrk -t1 -cC -s wrk_signed.lua`` sending each line of ``requests_file`` once."""
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
        *headers,
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
