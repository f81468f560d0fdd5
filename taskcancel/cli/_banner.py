"""What ``taskcancel serve`` prints when it is ready: one screen a newcomer can act on.

Every id, key and path in it is escaped (:func:`taskcancel.worldfile.printable`), so data
can never forge a line such as a second ``listening on``.
"""

from __future__ import annotations

import argparse
import itertools
import socket

from .._core._rules import supports_cancel
from .._store import Store
from ..worldfile._world import WorldSpec, printable
from ._serve_options import origin

__all__ = ["banner", "endpoint", "reachable"]


def endpoint(sock: socket.socket) -> str:
    """``http://HOST:PORT`` of the listening ``sock`` (an IPv6 address in brackets)."""
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    return f"http://{shown_host}:{port}"


def reachable(url: str) -> str:
    """``url`` as a client on this machine reaches it: an unspecified bind address
    (``0.0.0.0``, ``[::]``) is not one to connect to, so loopback stands in for it."""
    return url.replace("//0.0.0.0:", "//127.0.0.1:", 1).replace("//[::]:", "//[::1]:", 1)


def banner(
    args: argparse.Namespace,
    world: WorldSpec,
    store: Store,
    sock: socket.socket,
    accounts: dict[str, str],
    *,
    enabled: bool,
) -> str:
    url = endpoint(sock)
    client_url = reachable(url)
    key_id, secret = next(iter(accounts.items()))
    key_id_p, secret_p = printable(key_id), printable(secret)
    source = printable(args.world) if args.world else "demo world"
    if not args.store:
        kind = "in-memory store"
    elif getattr(store, "created", True):
        kind = f"new SQLite store {printable(args.store)}"
    else:  # regions and tasks come from the store; accounts and faults from the world
        kind = f"SQLite store {printable(args.store)} (its tasks kept)"
        source = f"accounts and faults from {source}"
    lines = [
        f"taskcancel emulator: ECS 2014-05-26, profile {args.profile}, {kind}, {source}, "
        f"clock {args.clock}",
        f"credentials: ALIBABA_CLOUD_ACCESS_KEY_ID={key_id_p} "
        f"ALIBABA_CLOUD_ACCESS_KEY_SECRET={secret_p}",
    ]
    example = _example_task(world, store, key_id)
    if example is not None:
        lines.append(
            f"try: ALIBABA_CLOUD_ACCESS_KEY_ID={key_id_p} ALIBABA_CLOUD_ACCESS_KEY_SECRET="
            f"{secret_p} taskcancel cancel --endpoint {client_url} --region "
            f"{printable(example[0])} --task {printable(example[1])}"
        )
    # Without it, cancel/describe in another shell call the real cloud.
    lines.append(f"shell: export TASKCANCEL_ENDPOINT={client_url}")
    if args.no_control:
        control = f"off ({origin(args, 'no_control') or '--no-control'})"
    elif not enabled:
        control = "off (not a loopback address; give --control-token to turn it on)"
    elif args.control_token is not None:
        control = f"{client_url}/_taskcancel/ (needs Authorization: Bearer TOKEN)"
    else:
        control = f"{client_url}/_taskcancel/ (open: loopback only)"
    lines.append(f"control plane: {control}")
    if enabled:  # the dashboard lives on the control plane (taskcancel ui opens it)
        lines.append(f"dashboard: {url}/_taskcancel/ui")
    lines.append(f"listening on {url}")
    return "\n".join(lines)


def _example_task(world: WorldSpec, store: Store, owner: str) -> tuple[str, str] | None:
    """A task the printed credentials can cancel now, for the banner's example command.

    The world's tasks are tried first (cheap); a store that kept older state may have
    cancelled them all, so then a page of its own tasks per region is searched.
    """
    stored = (
        task
        for region in sorted(store.regions())
        for task in store.page_tasks(region, account=owner, offset=0, limit=100)[1]
    )
    for task in itertools.chain(world.tasks, stored):
        if task.owner != owner or task.cancel_fails or task.schedule is not None:
            continue
        current = store.get_task(task.region_id, task.task_id, account=owner)
        if current is not None and not current.cancel_fails and supports_cancel(current):
            return task.region_id, task.task_id
    return None
