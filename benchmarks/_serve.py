"""Benchmark support: run the emulator, or a bare ASGI app, under a chosen uvicorn setup.

Run as a script (one server per process, so the load generator and the server never
share a GIL)::

    python benchmarks/_serve.py --app emulator --tasks 300000 --http httptools \
        --loop uvloop --log-level warning [--store PATH]

It prints ``listening on http://127.0.0.1:PORT`` (like ``taskcancel serve``) once the
socket is bound, then serves until killed. The uvicorn configuration is
``taskcancel serve``'s (``taskcancel.server.uvicorn_config``: the bounded httptools
protocol), except that ``--http h11`` and ``--loop`` choose others.

The emulator's world: ``--tasks N`` Processing ImportImage tasks in ``cn-hangzhou``,
owned by ``testid``, with ids :func:`task_id` (0..N-1), plus :data:`PROBE_TASK`.
The bare app answers every request with 200 ``{"RequestId": "..."}`` and does nothing
else: the ceiling for any app under the same server.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

from taskcancel.testing import ServeProcess

REGION = "cn-hangzhou"
ACCESS_KEY_ID = "testid"
ACCESS_KEY_SECRET = "testsecret"
PROBE_TASK = "t-bench-probe"
BARE_BODY = b'{"RequestId":"00000000-0000-4000-8000-000000000000"}'
HERE = os.path.dirname(os.path.abspath(__file__))


def task_id(index: int) -> str:
    """The id of the ``index``-th benchmark task."""
    return f"t-bench-{index:07d}"


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The fixed-reply ASGI app: 200 and a constant JSON body, the body read and ignored."""
    kind = scope["type"]
    if kind == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if kind != "http":
        return
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json;charset=utf-8"),
                (b"content-length", str(len(BARE_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BARE_BODY})


def _emulator(tasks: int, store_path: str | None) -> tuple[Any, Any]:
    from taskcancel._core._model import Task, TaskAction, TaskStatus
    from taskcancel._store import MemoryStore
    from taskcancel.server import create_app

    def make(name: str) -> Task:
        return Task(
            task_id=name,
            region_id=REGION,
            action=TaskAction.IMPORT_IMAGE,
            status=TaskStatus.PROCESSING,
            owner=ACCESS_KEY_ID,
            progress="40%",
        )

    world = [make(task_id(i)) for i in range(tasks)]
    world.append(make(PROBE_TASK))
    regions = [REGION]
    if store_path:
        from taskcancel._store.sqlite import SqliteStore

        # A SqliteStore reopens an existing file as it is: start from a fresh world.
        for leftover in (store_path, f"{store_path}-wal", f"{store_path}-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
        store: Any = SqliteStore(store_path, world, regions=regions)
    else:
        store = MemoryStore(world, regions=regions)
    app = create_app(store, accounts={ACCESS_KEY_ID: ACCESS_KEY_SECRET})
    return app, store


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=["emulator", "bare"], required=True)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument(
        "--store", metavar="PATH", help="SqliteStore file, replaced if it exists (default: memory)"
    )
    parser.add_argument("--http", default="auto", choices=["auto", "httptools", "h11"])
    parser.add_argument("--loop", default="auto", choices=["auto", "uvloop", "asyncio"])
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)

    import uvicorn

    from taskcancel.server import bind_socket, uvicorn_config

    store = None
    if args.app == "emulator":
        app, store = _emulator(args.tasks, args.store)
    else:
        app = bare_app
    sock = bind_socket("127.0.0.1", 0)
    # As taskcancel serve: root logging at the chosen level, uvicorn's access log off.
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    port = sock.getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    # The same configuration as `taskcancel serve` (taskcancel._uvicorn), with the
    # chosen parser and loop; "httptools" means taskcancel's bounded httptools protocol.
    options: dict[str, Any] = {"loop": args.loop, "log_level": args.log_level, "lifespan": "on"}
    if args.http == "h11":
        options["http"] = "h11"
    config = uvicorn_config(app, **options)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        if store is not None:
            store.close()
    return 0


# ----------------------------------------------------------------- used by the benchmarks


class ServerProcess(ServeProcess):
    """A server subprocess (``command`` prints ``listening on URL``); a context manager.

    :class:`taskcancel.testing.ServeProcess` running ``command`` (in its environment
    without proxy variables); it returns once the server answers HTTP. Its stderr
    (where the per-request log lines go at level info) is written to ``log_path``, a
    file, as a deployed server's log would be.
    """

    def __init__(self, command: Sequence[str], log_path: str, *, timeout: float = 120.0):
        super().__init__(command=command, log_path=Path(log_path), timeout=timeout)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.endpoint

    def start(self) -> Self:
        super().start()
        try:
            _wait_accepting(self.port, time.monotonic() + self.timeout)
        except BaseException:
            self.stop()
            raise
        return self


def _wait_accepting(port: int, deadline: float) -> None:
    """Wait until uvicorn answers (the socket is bound before uvicorn's loop starts)."""
    import http.client

    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz-bench")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def serve_command(
    app: str,
    *,
    http: str = "httptools",
    loop: str = "uvloop",
    log_level: str = "warning",
    tasks: int = 0,
    store: str | None = None,
) -> list[str]:
    """The command line that runs this module as a server."""
    command = [
        sys.executable,
        os.path.join(HERE, "_serve.py"),
        "--app",
        app,
        "--http",
        http,
        "--loop",
        loop,
        "--log-level",
        log_level,
        "--tasks",
        str(tasks),
    ]
    if store:
        command += ["--store", store]
    return command


if __name__ == "__main__":
    sys.exit(main())
