"""``taskcancel serve``: the emulator as a process (the main job)."""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
from typing import Any

from .._catalogue import PROFILES
from .._store import Store, system_clock
from .._world import WorldFileError, WorldSpec, demo_world, load_world
from ._exit import EXIT_OK, EXIT_USAGE

__all__ = ["add_parser", "run"]


def _access_key(text: str) -> tuple[str, str]:
    key_id, sep, secret = text.partition(":")
    if not sep or not key_id or not secret:
        raise argparse.ArgumentTypeError(f"expected ID:SECRET, got {text!r}")
    return key_id, secret


def add_parser(commands: Any) -> None:
    """Add ``serve`` and its options to the subcommands ``commands``."""
    serve = commands.add_parser("serve", help="run the ECS emulator (the main job)")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one")
    serve.add_argument("--world", metavar="FILE", help="world file (JSON) to seed the store")
    serve.add_argument("--store", metavar="PATH", help="keep state in SQLite at PATH")
    serve.add_argument("--profile", choices=sorted(PROFILES), default="2017")
    serve.add_argument(
        "--access-key",
        metavar="ID:SECRET",
        type=_access_key,
        action="append",
        default=[],
        help="accept this AccessKey pair too (repeatable)",
    )
    serve.add_argument(
        "--seed",
        metavar="N",
        type=int,
        help="seed the ids of tasks and images that ImportImage/ExportImage create",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def _open_store(args: argparse.Namespace, world: WorldSpec) -> Store:
    if args.store:
        from .._sqlite import SqliteStore

        return SqliteStore(args.store, world.tasks, regions=world.regions)
    from .._store import MemoryStore

    return MemoryStore(world.tasks, regions=world.regions)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError:
        print(
            "taskcancel: error: serve needs uvicorn: pip install 'taskcancel[server]'",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from .._actions import IdGenerator
    from ..server import bind_socket, create_app, uvicorn_config

    if not 0 <= args.port <= 65535:
        print(f"taskcancel: error: --port must be 0..65535, got {args.port}", file=sys.stderr)
        return EXIT_USAGE
    now = system_clock()
    try:
        world = load_world(args.world, now=now) if args.world else demo_world(now)
        store = _open_store(args, world)
    except (WorldFileError, ValueError, OSError) as exc:
        print(f"taskcancel: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    accounts = dict(world.accounts)
    accounts.update(dict(args.access_key))
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        store.close()
        print(
            f"taskcancel: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(
        store,
        accounts=accounts,
        profile=args.profile,
        faults=world.faults,
        ids=IdGenerator(args.seed),
    )
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    endpoint = f"http://{shown_host}:{port}"
    key_id, secret = next(iter(accounts.items()))
    source = args.world or "demo world"
    if not args.store:
        kind = "in-memory store"
    elif getattr(store, "created", True):
        kind = f"new SQLite store {args.store}"
    else:  # regions and tasks come from the store; accounts and faults from the world
        kind = f"SQLite store {args.store} (its tasks kept)"
        source = f"accounts and faults from {source}"
    example = _example_task(world, store, key_id)
    print(f"taskcancel emulator: ECS 2014-05-26, profile {args.profile}, {kind}, {source}")
    print(
        f"credentials: ALIBABA_CLOUD_ACCESS_KEY_ID={key_id} "
        f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}"
    )
    if example is not None:
        print(
            f"try: ALIBABA_CLOUD_ACCESS_KEY_ID={key_id} ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret}"
            f" taskcancel cancel --endpoint {endpoint} --region {example[0]} --task {example[1]}"
        )
    print(f"listening on {endpoint}", flush=True)
    config = uvicorn_config(app, log_level=args.log_level, lifespan="on")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        store.close()
    return EXIT_OK


def _example_task(world: WorldSpec, store: Store, owner: str) -> tuple[str, str] | None:
    """A task the printed credentials can cancel now, for the banner's example command.

    The world's tasks are tried first (cheap); a store that kept older state may have
    cancelled them all, so then its own tasks are searched.
    """
    from .._actions import supports_cancel

    stored = (
        task
        for region in sorted(store.regions())
        for task in store.list_tasks(region, account=owner)
    )
    for task in itertools.chain(world.tasks, stored):
        if task.owner != owner or task.cancel_fails or task.schedule is not None:
            continue
        current = store.get_task(task.region_id, task.task_id, account=owner)
        if current is not None and not current.cancel_fails and supports_cancel(current):
            return task.region_id, task.task_id
    return None
