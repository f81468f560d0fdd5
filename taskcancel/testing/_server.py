"""``EmulatorServer``: the real emulator, on 127.0.0.1 and a free port, in a background thread.

The same ASGI app and uvicorn that ``taskcancel serve`` runs; for tests that talk HTTP
(the official SDKs, :class:`~taskcancel.HttpTransport`, curl).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import attrs

from .. import DEFAULT_ACCOUNTS, Client, Clock, Faults, MemoryStore, Store, Task, WorldSpec
from .._uvicorn import DEFAULT_MAX_CONNECTIONS, DEFAULT_REQUEST_TIMEOUT, check_guards
from ..server import Emulator, bind_socket, uvicorn_config

__all__ = ["EmulatorServer"]


def _server_class() -> Any:
    """A ``uvicorn.Server`` that notices a stop request at once, not at its next 0.1 s tick.

    Only ``main_loop`` changes; uvicorn's own graceful shutdown still runs.
    """
    import uvicorn

    class _ThreadServer(uvicorn.Server):
        _wake: asyncio.Event | None = None
        _loop: asyncio.AbstractEventLoop | None = None

        async def main_loop(self) -> None:
            self._wake = asyncio.Event()
            self._loop = asyncio.get_running_loop()
            counter = 0
            while not await self.on_tick(counter):
                counter = (counter + 1) % 864000
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.1)

        def request_exit(self) -> None:
            self.should_exit = True
            if self._loop is not None and self._wake is not None:
                with contextlib.suppress(RuntimeError):  # the loop already closed
                    self._loop.call_soon_threadsafe(self._wake.set)

    return _ThreadServer


class EmulatorServer:
    """Run the emulator in the background: ``with EmulatorServer(tasks) as server: ...``.

    ``world`` is a :class:`~taskcancel.WorldSpec`, a list of tasks, or ``None`` (no
    tasks, the built-in regions, the account ``testid``/``testsecret``). Tasks without
    an owner are given to the first account, so ``server.access_key_id`` sees them.
    ``store`` replaces the in-memory store (the server then does not close it);
    ``clock`` drives task lifecycles (the gateway's timestamp check keeps the real clock).
    ``request_timeout`` (seconds for a request to arrive in full) and ``max_connections``
    are the connection guards of ``taskcancel serve``; other options go to the app
    (:class:`~taskcancel.server.Emulator`).
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
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        **options: Any,
    ) -> None:
        check_guards(request_timeout, max_connections)
        self._request_timeout, self._max_connections = request_timeout, max_connections
        spec = world if isinstance(world, WorldSpec) else WorldSpec(tasks=tuple(world or ()))
        self._accounts = dict(accounts or spec.accounts or DEFAULT_ACCOUNTS)
        self.access_key_id, self.access_key_secret = next(iter(self._accounts.items()))
        tasks = [self._owned(task) for task in spec.tasks]
        self._owns_store = store is None
        # Tasks the server adds to a store it was given: reset() puts them back.
        self._added: list[Task] = []
        if store is None:
            self.store: Store = MemoryStore(tasks, regions=spec.regions, clock=clock)
        else:
            self.store = store
            for task in tasks:
                store.add_task(task)
            self._added = tasks
        self._initial_faults = faults or spec.faults
        self.app = Emulator(
            self.store,
            accounts=self._accounts,
            profile=profile,
            faults=self._initial_faults,
            **options,
        )
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.host = "127.0.0.1"
        self.port = 0

    def _owned(self, task: Task) -> Task:
        return task if task.owner is not None else attrs.evolve(task, owner=self.access_key_id)

    @property
    def endpoint(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._thread is None:
            raise RuntimeError("EmulatorServer is not running; use it as a context manager")
        return f"http://{self.host}:{self.port}"

    def start(self, *, timeout: float = 10.0) -> EmulatorServer:
        """Bind a free port, start uvicorn in a thread, return once it accepts requests."""
        if self._thread is not None:
            raise RuntimeError("EmulatorServer is already running")
        sock = bind_socket(self.host, 0)
        self.port = sock.getsockname()[1]
        config = uvicorn_config(
            self.app,
            log_level="warning",
            lifespan="off",
            request_timeout=self._request_timeout,
            max_connections=self._max_connections,
        )
        server = _server_class()(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="taskcancel-emulator", daemon=True
        )
        self._server, self._thread, self._socket = server, thread, sock
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.001)
        return self

    def stop(self) -> None:
        """Stop uvicorn, join its thread, close the socket (and the store, if ours)."""
        if self._thread is None:
            return
        self._server.request_exit()
        self._thread.join(timeout=10)
        self._socket.close()
        self._thread = None
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the world ----------------------------------------------------------------------

    def add_task(self, task: Task) -> Task:
        """Add a task (owner defaults to this server's access key); returns it as stored."""
        task = self._owned(task)
        self.store.add_task(task)
        return task

    def load(self, tasks: Iterable[Task] = (), *, store: Store | None = None) -> Store:
        """Swap in a fresh world while running: a new in-memory store over ``tasks``.

        Tasks without an owner go to this server's access key, as in the constructor;
        pass ``store`` to use a store of your own (the tasks are added to it). Returns
        the store now in use. The previous store is closed if this server made it.
        """
        owned = [self._owned(task) for task in tasks]
        if store is None:
            new: Store = MemoryStore(owned, regions=self.store.regions(), clock=self.store.clock)
        else:
            new = store
            for task in owned:
                new.add_task(task)
        old, self.store, self.app.store = self.store, new, new
        if self._owns_store:
            old.close()
        self._owns_store = store is None
        self._added = [] if store is None else owned
        return new

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept another AccessKey pair."""
        self.app.add_account(access_key_id, access_key_secret)

    def reset(self) -> None:
        """Restore the initial world and the faults the server started with."""
        self.store.reset()
        for task in self._added:
            if self.store.find_task(task.region_id, task.task_id) is None:
                self.store.add_task(task)
        self.app.faults = self._initial_faults

    # -- faults -------------------------------------------------------------------------

    def fail_cancel(self, region_id: str, task_id: str, fails: bool = True) -> None:
        """Make cancelling this task fail with CancelTaskFailed (the task is unchanged)."""
        self.store.set_cancel_fails(region_id, task_id, fails)

    def set_faults(
        self,
        *,
        throttle_rate: float | None = None,
        retry_after_ms: int | None = None,
        latency_ms: float | None = None,
    ) -> None:
        """Throttle a share of requests (``Throttling.User``); add latency to each."""
        current = self.app.faults
        changes: dict[str, Any] = {
            "throttle_rate": throttle_rate,
            "retry_after_ms": retry_after_ms,
            "latency_ms": latency_ms,
        }
        if throttle_rate is not None and not 0 <= throttle_rate <= 1:
            raise ValueError(f"throttle_rate must be in [0, 1], got {throttle_rate!r}")
        self.app.faults = attrs.evolve(
            current, **{k: v for k, v in changes.items() if v is not None}
        )

    # -- clients ------------------------------------------------------------------------

    def client(self, *, signature: str = "acs3", timeout: float = 10.0) -> Client:
        """A :class:`~taskcancel.Client` over a signing :class:`HttpTransport` to this server."""
        from .. import HttpTransport

        return Client(
            HttpTransport(
                self.endpoint,
                access_key_id=self.access_key_id,
                access_key_secret=self.access_key_secret,
                signature=signature,
                timeout=timeout,
            )
        )

    def sdk_config(self, region_id: str = "cn-hangzhou", **options: Any) -> Any:
        """A ready ``alibabacloud_tea_openapi`` ``Config`` for the official new SDK.

        Sets ``protocol="HTTP"`` (every ECS API otherwise insists on HTTPS) and
        ``endpoint="127.0.0.1:PORT"``. Pass ``signature_algorithm="v2"`` for V1 signing.
        """
        from alibabacloud_tea_openapi.models import Config

        return Config(
            access_key_id=self.access_key_id,
            access_key_secret=self.access_key_secret,
            region_id=region_id,
            endpoint=f"{self.host}:{self.port}",
            protocol="HTTP",
            **options,
        )
