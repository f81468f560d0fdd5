"""Per-call time of the official SDK's cancel_task: the emulator vs a fixed-reply stub server.

    python benchmarks/bench_sdk_overhead.py [--calls 2000]

The new SDK (``alibabacloud-ecs20140526``) calls ``cancel_task`` on two servers on
127.0.0.1, both subprocesses of ``benchmarks/_serve.py``, in both of its signing modes:
ACS3-HMAC-SHA256 (its default) and V1 (``signature_algorithm="v2"``, HMAC-SHA1 over the
query):

* the stub: the bare ASGI app under uvicorn (httptools + uvloop) answering 200
  ``{"RequestId": "..."}`` to anything;
* the emulator: taskcancel's own server as ``taskcancel serve --log-level warning`` runs it
  (``_serve.py --app emulator``), with one Processing ImportImage task per call, so each
  call is a real signed, verified, successful cancel.

Calls alternate stub, emulator, stub, ... (after a warm-up of each) so both see the
same machine conditions. Prints median and mean microseconds per call and the
emulator's overhead over the stub, per signing mode (target <= 8%). No assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import _serve

from taskcancel.testing import PROXY_VARIABLES, ServeProcess

WARMUP = 100
#: The SDK's ``signature_algorithm`` for each mode (None: its default, ACS3).
MODES = {"ACS3": None, "V1": "v2"}


def _client(netloc: str, algorithm: str | None) -> Any:
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi.models import Config

    config = Config(
        access_key_id=_serve.ACCESS_KEY_ID,
        access_key_secret=_serve.ACCESS_KEY_SECRET,
        region_id=_serve.REGION,
        endpoint=netloc,
        protocol="HTTP",
    )
    if algorithm is not None:
        config.signature_algorithm = algorithm
    return Client(config)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per server")
    args = parser.parse_args()
    for name in PROXY_VARIABLES:  # the SDK would send even loopback calls to a proxy
        os.environ.pop(name, None)
    from alibabacloud_ecs20140526 import models

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    per_mode = WARMUP + args.calls
    stub_command = _serve.serve_command("bare")
    emulator_command = _serve.serve_command("emulator", tasks=per_mode * len(MODES))
    times: dict[tuple[str, str], list[float]] = {
        (mode, name): [] for mode in MODES for name in ("stub", "emulator")
    }
    failures = dict.fromkeys(times, 0)
    with (
        ServeProcess(command=stub_command) as stub,
        ServeProcess(command=emulator_command) as emulator,
    ):
        clock = time.perf_counter_ns
        task = 0
        for mode, algorithm in MODES.items():
            clients = {
                "stub": _client(stub.netloc, algorithm),
                "emulator": _client(emulator.netloc, algorithm),
            }
            for index in range(per_mode):
                request = models.CancelTaskRequest(
                    region_id=_serve.REGION, task_id=_serve.task_id(task)
                )
                task += 1
                for name, client in clients.items():
                    begin = clock()
                    try:
                        response = client.cancel_task(request)
                        ok = response.status_code == 200 and bool(response.body.request_id)
                    except Exception as exc:  # count it, keep going: no asserts here
                        ok = False
                        if failures[mode, name] == 0:
                            print(f"{mode} {name}: first failure: {type(exc).__name__}: {exc}")
                    elapsed = clock() - begin
                    if index >= WARMUP:
                        times[mode, name].append(elapsed)
                        failures[mode, name] += not ok

    print(
        f"official new SDK cancel_task, {args.calls} calls per server and mode after"
        f" {WARMUP} warm-up, alternating; stub: bare ASGI app under uvicorn; emulator:"
        " _serve.py (taskcancel's server, log level warning)"
    )
    print(
        f"{'mode':<5} {'server':<9} {'median µs':>10} {'mean µs':>10} {'p90 µs':>10} {'failed':>7}"
    )
    for mode in MODES:
        summary: dict[str, tuple[float, float]] = {}
        for name in ("stub", "emulator"):
            micros = [t / 1000 for t in times[mode, name]]
            median, mean = statistics.median(micros), statistics.fmean(micros)
            p90 = statistics.quantiles(micros, n=10)[-1]
            summary[name] = (median, mean)
            print(
                f"{mode:<5} {name:<9} {median:>10.0f} {mean:>10.0f} {p90:>10.0f}"
                f" {failures[mode, name]:>7}"
            )
        (stub_median, stub_mean), (emu_median, emu_mean) = summary["stub"], summary["emulator"]
        print(
            f"{mode:<5} overhead  {100 * (emu_median / stub_median - 1):>9.1f}%"
            f" {100 * (emu_mean / stub_mean - 1):>9.1f}%   (emulator over stub, median and"
            " mean; target <= 8%)"
        )
    print(
        f"total {time.monotonic() - started:.0f}s; load average {load_before:.2f} before,"
        f" {os.getloadavg()[0]:.2f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
