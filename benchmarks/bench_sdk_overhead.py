"""Per-call time of the official SDK's cancel_task: the emulator vs a fixed-reply stub server.

    /tmp/dev/bin/python benchmarks/bench_sdk_overhead.py [--calls 2000]

The new SDK (``alibabacloud-ecs20140526``, default ACS3-HMAC-SHA256 signing) calls
``cancel_task`` on two servers on 127.0.0.1, both subprocesses of ``benchmarks/_serve.py``
under the same uvicorn set-up (httptools + uvloop, log level warning, as
``taskcancel serve`` would pick with ``--log-level warning``):

* the stub: a bare ASGI app answering 200 ``{"RequestId": "..."}`` to anything;
* the emulator: one Processing ImportImage task per call, so each call is a real
  signed, verified, successful cancel.

Calls alternate stub, emulator, stub, ... (after a warm-up of each) so both see the
same machine conditions. Prints median and mean microseconds per call and the
emulator's overhead over the stub (target <= 10%). No assertions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import _serve

from taskcancel.testing import PROXY_VARIABLES

WARMUP = 100


def _client(port: int):
    from alibabacloud_ecs20140526.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(
        Config(
            access_key_id=_serve.ACCESS_KEY_ID,
            access_key_secret=_serve.ACCESS_KEY_SECRET,
            region_id=_serve.REGION,
            endpoint=f"127.0.0.1:{port}",
            protocol="HTTP",
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="measured calls per server")
    args = parser.parse_args()
    for name in PROXY_VARIABLES:  # the SDK would send even loopback calls to a proxy
        os.environ.pop(name, None)
    from alibabacloud_ecs20140526 import models

    started = time.monotonic()
    load_before = os.getloadavg()[0]
    total = WARMUP + args.calls
    workdir = tempfile.mkdtemp(prefix="taskcancel-sdk-bench-")
    stub_log = os.path.join(workdir, "stub.log")
    emulator_log = os.path.join(workdir, "emulator.log")
    stub_command = _serve.serve_command("bare")
    emulator_command = _serve.serve_command("emulator", tasks=total)
    times: dict[str, list[int]] = {"stub": [], "emulator": []}
    failures: dict[str, int] = {"stub": 0, "emulator": 0}
    with (
        _serve.ServerProcess(stub_command, stub_log) as stub,
        _serve.ServerProcess(emulator_command, emulator_log) as emulator,
    ):
        clients = {"stub": _client(stub.port), "emulator": _client(emulator.port)}
        clock = time.perf_counter_ns
        for index in range(total):
            request = models.CancelTaskRequest(
                region_id=_serve.REGION, task_id=_serve.task_id(index)
            )
            for name, client in clients.items():
                begin = clock()
                try:
                    response = client.cancel_task(request)
                    ok = response.status_code == 200 and bool(response.body.request_id)
                except Exception as exc:  # count it, keep going: no asserts here
                    ok = False
                    if failures[name] == 0:
                        print(f"{name}: first failure: {type(exc).__name__}: {exc}")
                elapsed = clock() - begin
                if index >= WARMUP:
                    times[name].append(elapsed)
                    failures[name] += not ok
    for path in (stub_log, emulator_log):
        os.remove(path)
    os.rmdir(workdir)

    print(
        f"official new SDK (ACS3) cancel_task, {args.calls} calls per server after {WARMUP}"
        " warm-up, alternating; servers: _serve.py subprocesses, uvicorn httptools+uvloop,"
        " log level warning"
    )
    print(f"{'server':<10} {'median us':>10} {'mean us':>10} {'p90 us':>10} {'failed':>7}")
    summary: dict[str, tuple[float, float]] = {}
    for name in ("stub", "emulator"):
        micros = [t / 1000 for t in times[name]]
        median, mean = statistics.median(micros), statistics.fmean(micros)
        p90 = statistics.quantiles(micros, n=10)[-1]
        summary[name] = (median, mean)
        print(f"{name:<10} {median:>10.0f} {mean:>10.0f} {p90:>10.0f} {failures[name]:>7}")
    (stub_median, stub_mean), (emu_median, emu_mean) = summary["stub"], summary["emulator"]
    by_median = 100 * (emu_median / stub_median - 1)
    by_mean = 100 * (emu_mean / stub_mean - 1)
    print(f"overhead   {by_median:>9.1f}% {by_mean:>9.1f}%   (emulator over stub; target <= 10%)")
    print(
        f"total {time.monotonic() - started:.0f}s; load average {load_before:.2f} before,"
        f" {os.getloadavg()[0]:.2f} after"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
