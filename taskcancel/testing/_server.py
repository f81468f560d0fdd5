"""``EmulatorServer``: the real emulator, on 127.0.0.1 and a free port, in a background thread.

The same app, connection layer and control plane that ``taskcancel serve`` runs; for tests
that talk HTTP (the official SDKs, :class:`~taskcancel.HttpTransport`, curl). Its methods
that change the world are the control plane's operations, called directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs

from .. import (
    Client,
    Clock,
    MemoryStore,
    Store,
    Task,
    __version__,
)
from .._store._clock import FakeClock
from ..server import BackgroundServer, Settings, TaskChanges, bind_socket, build
from ..worldfile import DEFAULT_ACCOUNTS, FaultRule, Faults, WorldSpec
from ._clients import sdk_config, signed_client

__all__ = ["EmulatorServer"]


class EmulatorServer:
    """Run the emulator in the background: ``with EmulatorServer(tasks) as server: ...``.

    ``world`` is a :class:`~taskcancel.WorldSpec`, a list of tasks, or ``None`` (no
    tasks, the built-in regions, the account ``testid``/``testsecret``). Tasks without
    an owner are given to the first account, so ``server.access_key_id`` sees them.
    ``store`` replaces the in-memory store (the server then does not close it);
    ``clock`` drives task lifecycles (the gateway's timestamp check keeps the real clock,
    or ``gateway_clock``; a :class:`~taskcancel.testing.FakeClock` can also be moved
    through the control plane). Every other keyword is a field of
    :class:`~taskcancel.server.Settings` (``request_timeout``, ``max_connections``,
    ``control_token``, ``nonce_capacity``, ...), or pass ``settings`` whole.
    """

    def __init__(
        self,
        world: WorldSpec | Iterable[Task] | None = None,
        *,
        profile: str = "2017",
        store: Store | None = None,
        clock: Clock | None = None,
        accounts: Mapping[str, str] | None = None,
        faults: Faults | None = None,
        settings: Settings | None = None,
        gateway_clock: Clock | None = None,
        chance: Callable[[], float] | None = None,
        **options: Any,
    ) -> None:
        spec = world if isinstance(world, WorldSpec) else WorldSpec(tasks=tuple(world or ()))
        accounts = dict(accounts or spec.accounts or DEFAULT_ACCOUNTS)
        self.access_key_id, self.access_key_secret = next(iter(accounts.items()))
        tasks = [self._owned(task) for task in spec.tasks]
        self._owns_store = store is None
        if store is None:
            store = MemoryStore(tasks, regions=spec.regions, clock=clock)
            added: list[Task] = []
        else:
            store.add_tasks(tasks)
            added = tasks  # reset() puts back the tasks added to a store it was given
        start = WorldSpec(
            regions=store.regions(),
            accounts=accounts,
            tasks=tuple(added),
            faults=faults or spec.faults,
        )
        if profile != "2017":  # the default leaves a given ``settings``' profile alone
            options["profile"] = profile
        settings = attrs.evolve(settings or Settings(version=__version__), **options)
        built = build(
            settings,
            store,
            start,
            fake_clock=clock if isinstance(clock, FakeClock) else None,
            gateway_clock=gateway_clock,
            chance=chance,
        )
        self.settings = settings
        self.app, self.ops, self._server = built.app, built.ops, built.server
        self._background: BackgroundServer | None = None
        self.host = "127.0.0.1"
        self.port = 0

    @property
    def store(self) -> Store:
        """The store being served."""
        return self.ops.live.current.store

    @property
    def accounts(self) -> Mapping[str, str]:
        """The accounts in force (AccessKeyId -> secret)."""
        return self.ops.live.current.accounts

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self.ops.live.current.faults

    def _owned(self, task: Task) -> Task:
        return task if task.owner is not None else attrs.evolve(task, owner=self.access_key_id)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._background is None:
            raise RuntimeError("EmulatorServer is not running; use it as a context manager")
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 10.0) -> EmulatorServer:
        """Bind a free port, serve in a thread, return once it accepts requests."""
        if self._background is not None:
            raise RuntimeError("EmulatorServer is already running")
        sock = bind_socket(self.host, 0)
        self.port = sock.getsockname()[1]
        self._socket = sock
        background = BackgroundServer(self._server, sock)
        self._background = background
        try:
            background.start(timeout)
        except RuntimeError:
            self._background = None
            sock.close()
            raise
        return self

    def stop(self) -> None:
        """Stop serving (answers owed are written), close the socket, and our store."""
        if self._background is None:
            return
        self._background.stop()
        self._socket.close()
        self._background = None
        self.ops.journal.close()  # a journal file is written out
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- the world: the control plane's operations ------------------------------------------

    def add_task(self, task: Task) -> Task:
        """Add a task (owner defaults to this server's access key); returns it as stored."""
        task = self._owned(task)
        self.ops.add_tasks([task])
        return task

    def load(self, tasks: Iterable[Task] = (), *, store: Store | None = None) -> Store:
        """Swap in a fresh world while running: the same regions, these ``tasks``.

        Tasks without an owner go to this server's access key, as in the constructor;
        pass ``store`` to serve a store of your own instead (the tasks are added to it).
        Returns the store now in use.
        """
        owned = [self._owned(task) for task in tasks]
        if store is None:
            self.store.replace(owned, regions=self.store.regions())
            return self.store
        store.add_tasks(owned)
        old = self.store
        self.ops.serve_store(store, start_tasks=owned)
        if self._owns_store:
            old.close()
        self._owns_store = False
        return store

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept another AccessKey pair (until the next reset)."""
        self.ops.add_account(access_key_id, access_key_secret)

    def reset(self) -> None:
        """Back to the start: world, accounts, faults, clock, and no nonce remembered."""
        self.ops.reset()

    def fail_cancel(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Make cancelling this task fail with CancelTaskFailed (the task is unchanged)."""
        self.ops.change_task(region_id, task_id, TaskChanges(cancel_fails=fails))

    def set_faults(
        self,
        *,
        throttle_rate: float | None = None,
        retry_after_ms: int | None = None,
        latency_ms: float | None = None,
        rules: Iterable[FaultRule] | None = None,
    ) -> None:
        """Throttle a share of requests (``Throttling.User``); add latency to each; put
        fault rules in force (:class:`~taskcancel.testing.FaultRule`, docs/faults.md: the first
        that matches and fires decides; their counts start at zero). What is not given
        stays as it is. ``ValueError`` (nothing changed) for a rule whose ``Error`` this
        server's profile and gateway do not know, or two rules with one name.
        """
        if throttle_rate is not None and not 0 <= throttle_rate <= 1:
            raise ValueError(f"throttle_rate must be in [0, 1], got {throttle_rate!r}")
        current = self.faults
        new_rules = None if rules is None else tuple(rules)
        if new_rules is not None:
            names = [rule.name for rule in new_rules]
            if len(set(names)) != len(names):
                raise ValueError(f"rules: two rules share a name: {names!r}")
        self.ops.set_faults(
            Faults(
                throttle_rate=current.throttle_rate if throttle_rate is None else throttle_rate,
                retry_after_ms=current.retry_after_ms if retry_after_ms is None else retry_after_ms,
                latency_ms=current.latency_ms if latency_ms is None else latency_ms,
                rules=current.rules if new_rules is None else new_rules,
            )
        )

    def requests(self, **filters: object) -> list[dict[str, Any]]:
        """The request journal's entries, oldest first (docs/journal.md): ``GET
        /_taskcancel/requests``' ``Requests``. ``filters`` take the route's names
        (``Action="CancelTask"``) or Python's (``action=``, ``task_id=``, ``code=``,
        ``region_id=``, ``access_key_id=``, ``kind=``, ``since=``, ``limit=``,
        ``wait_seconds=``); a bad one raises ``ValueError`` with the route's message."""
        from ._journal import journal_request

        return journal_request(self.app, filters)

    # -- clients ------------------------------------------------------------------------

    def client(self, *, signature: str = "acs3", timeout: float = 10.0) -> Client:
        """A :class:`~taskcancel.Client` over a signing :class:`HttpTransport` to this server."""
        return signed_client(
            self.endpoint,
            self.access_key_id,
            self.access_key_secret,
            signature=signature,
            timeout=timeout,
        )

    def sdk_config(self, region_id: str = "cn-hangzhou", **options: Any) -> Any:
        """A ready ``alibabacloud_tea_openapi`` ``Config`` for the official new SDK.

        Sets ``protocol="HTTP"`` (every ECS API otherwise insists on HTTPS) and
        ``endpoint="127.0.0.1:PORT"``. Pass ``signature_algorithm="v2"`` for V1 signing.
        """
        return sdk_config(
            self.endpoint, self.access_key_id, self.access_key_secret, region_id, **options
        )
