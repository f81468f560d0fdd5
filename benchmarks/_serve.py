"""Benchmark servers: the emulator on taskcancel's own server, a bare ASGI app under uvicorn,
and moto server.

Run as a script (one server per process, so the load generator and the server never
share a GIL)::

    python benchmarks/_serve.py --app emulator --tasks 300000 --log-level warning [--store PATH]
    python benchmarks/_serve.py --app bare
    python benchmarks/_serve.py --app moto

Each prints ``listening on http://127.0.0.1:PORT`` (like ``taskcancel serve``) once it
accepts connections, then serves until SIGTERM.

* ``emulator``: :class:`taskcancel.server.Server` over :class:`taskcancel.server.Emulator`,
  set up as ``taskcancel serve`` sets them up (control plane on, the request log at info
  and debug only, SIGINT and SIGTERM stop it gracefully, what it loaded frozen out of the
  cyclic collector), on the event loop ``taskcancel serve`` runs (uvloop when installed).
  Its world: ``--tasks N`` Processing ImportImage tasks in ``cn-hangzhou``, owned by
  ``testid``, ids :func:`task_id` (0..N-1), plus :data:`PROBE_TASK`; built in-process (a
  world file of 300,000 tasks takes a while).
* ``bare``: an ASGI app answering 200 ``{"RequestId": "..."}`` to anything, body read and
  ignored, under uvicorn at its best (httptools parser, uvloop, access log off): the
  ceiling for a Python app server on this machine.
* ``moto``: moto server's own WSGI app (``moto.server``: werkzeug, threaded, moto's
  request handler), as ``python -m moto.server`` runs it, on a port picked by the kernel.
"""

from __future__ import annotations

import argparse
import gc
import os
import socket
import sys
from collections.abc import Sequence
from typing import Any

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


def _store(tasks: int, store_path: str | None) -> Any:
    from taskcancel import Task, TaskAction, TaskStatus
    from taskcancel._store import MemoryStore

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
    if not store_path:
        return MemoryStore(world, regions=[REGION])
    from taskcancel._store.sqlite import SqliteStore

    # A SqliteStore reopens an existing file as it is: start from a fresh world.
    for leftover in (store_path, f"{store_path}-wal", f"{store_path}-shm"):
        if os.path.exists(leftover):
            os.remove(leftover)
    return SqliteStore(store_path, world, regions=[REGION])


def serve_emulator(tasks: int, store_path: str | None, log_level: str) -> None:
    """The emulator as ``taskcancel serve`` runs it (cli/_serve.py), on a built world."""
    from taskcancel import __version__
    from taskcancel.server import RequestLog, Settings, bind_socket, build, run
    from taskcancel.worldfile import WorldSpec

    # The request log as serve makes it (its other lines, start and stop, are left out).
    request_log = None  # request lines are INFO: none at warning and above
    if log_level in ("debug", "info"):
        request_log = RequestLog(sys.stderr, fmt="text", debug=log_level == "debug")
    store = _store(tasks, store_path)
    accounts = {ACCESS_KEY_ID: ACCESS_KEY_SECRET}
    start = WorldSpec(regions=store.regions(), accounts=accounts, tasks=())
    settings = Settings(debug=log_level == "debug", version=__version__)
    server = build(settings, store, start, log=request_log).server
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]

    def ready() -> None:
        print(f"listening on http://127.0.0.1:{port}", flush=True)

    gc.collect()  # as taskcancel serve: what is loaded is kept off the cyclic collector
    gc.freeze()
    try:
        run(server, sock, ready=ready)
    finally:
        sock.close()
        store.close()


def serve_bare() -> None:
    """The bare app under uvicorn: httptools, uvloop, no access log."""
    import uvicorn

    from taskcancel.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        bare_app,
        http="httptools",
        loop="uvloop",
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = uvicorn.Server(config)
    # uvicorn binds nothing itself here: it serves the socket once started.
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def serve_moto() -> None:
    """moto server's app (as ``moto.server.main``), threaded werkzeug.

    moto before 5.1 served through its own ``MotoRequestHandler``; later releases use
    werkzeug's default handler. Either way, what ``moto.server.main`` does is served here.
    """
    from moto.moto_server import werkzeug_app
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    os.environ["MOTO_PORT"] = str(port)  # what moto.server.main sets
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1",
        port,
        app,
        threaded=True,
        request_handler=getattr(werkzeug_app, "MotoRequestHandler", None),
        fd=sock.fileno(),
    )
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # as moto.server.main
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", choices=["emulator", "bare", "moto"], required=True)
    parser.add_argument("--tasks", type=int, default=0)
    parser.add_argument(
        "--store", metavar="PATH", help="SqliteStore file, replaced if it exists (default: memory)"
    )
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    args = parser.parse_args(argv)
    if args.app == "emulator":
        serve_emulator(args.tasks, args.store, args.log_level)
    elif args.app == "bare":
        serve_bare()
    else:
        serve_moto()
    return 0


def serve_command(
    app: str,
    *,
    log_level: str = "warning",
    tasks: int = 0,
    store: str | None = None,
    script: str | None = None,
) -> list[str]:
    """The command line that runs this module (or ``script``, an older copy) as a server."""
    command = [sys.executable, script or os.path.join(HERE, "_serve.py"), "--app", app]
    if app == "emulator":
        command += ["--log-level", log_level, "--tasks", str(tasks)]
        if store:
            command += ["--store", store]
    return command


if __name__ == "__main__":
    sys.exit(main())
