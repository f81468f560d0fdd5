"""The taskcancel pytest plugin, loaded automatically through the ``pytest11`` entry point.

Fixtures (all function-scoped; ``ecs_emulator`` shares one server per session):

``ecs_clock``
    A :class:`~taskcancel.testing.FakeClock` at ``2026-01-01T00:00:00Z`` when the test
    starts, which only the test moves; the store and the emulator below read it.
``ecs_memory_store``
    A fresh, empty :class:`~taskcancel.MemoryStore` (all ECS regions) on ``ecs_clock``.
``ecs_memory``
    A :class:`~taskcancel.Client` over an :class:`~taskcancel.InMemoryTransport` on
    ``ecs_memory_store``, calling as the anonymous account ``None``.
``ecs_emulator``
    A running :class:`~taskcancel.testing.EmulatorServer` (no tasks, account
    ``testid``/``testsecret``, on ``ecs_clock``). One server serves the whole session
    (each pytest-xdist worker its own) and is reset before each test through the control
    plane's reset, so a test costs microseconds, not a server start and stop; no task,
    fault, account or nonce of another test is left, and a test that changed what a
    reset cannot restore (stopped it, swapped its store) leaves the next one a new
    server (:class:`~taskcancel.testing._shared.SharedEmulator`). A test that brings its
    own ``ecs_clock`` gets a server of its own on that clock, stopped afterwards. The
    ``HTTP(S)_PROXY``/``ALL_PROXY`` variables are unset for the test: the official
    SDKs would otherwise send even loopback calls through the proxy.
``ecs_endpoint``
    A :class:`CloudTarget`: the emulator, or -- for tests marked ``real_cloud`` when
    ``TASKCANCEL_REAL_CLOUD=1`` -- the real service.
``ecs_client``
    A :class:`~taskcancel.Client` (signed HTTP) to ``ecs_endpoint``.
``ecs_mock``
    ``ecs_emulator`` under :func:`~taskcancel.testing.mock_ecs`: every client of the
    official SDKs that the test (or the code it calls) creates talks to that emulator.

The ``real_cloud`` marker (moto's ``aws_verified``, for ECS): a marked test runs
against the emulator by default. With ``TASKCANCEL_REAL_CLOUD=1`` it runs against
``https://ecs.aliyuncs.com`` (or ``TASKCANCEL_REAL_CLOUD_ENDPOINT``) with the
credentials in ``ALIBABA_CLOUD_ACCESS_KEY_ID`` / ``ALIBABA_CLOUD_ACCESS_KEY_SECRET``,
and is skipped, saying why, when they are not set. Unmarked tests never reach the
real service. A test that must work both ways may only use what both offer: calls
through ``ecs_client`` or ``ecs_endpoint``, no world setup (``ecs_endpoint.emulator``
is ``None`` against the real service).

This module imports neither hypothesis nor the connection layer (httptools is imported
when an emulator first accepts a connection), so loading it costs little in any test run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import pytest

from .. import DEFAULT_ENDPOINT, Client, InMemoryTransport, MemoryStore
from .._store._clock import DEFAULT_START, FakeClock
from ._clients import sdk_config, signed_client
from ._journal import RequestJournal
from ._mock import mock_ecs
from ._process import PROXY_VARIABLES  # unset while ``ecs_emulator`` runs
from ._server import EmulatorServer
from ._shared import SharedEmulator

__all__ = [
    "PROXY_VARIABLES",
    "REAL_CLOUD_ENDPOINT",
    "CloudTarget",
    "ecs_client",
    "ecs_clock",
    "ecs_emulator",
    "ecs_endpoint",
    "ecs_memory",
    "ecs_memory_store",
    "ecs_mock",
    "pytest_configure",
    "pytest_runtest_setup",
    "real_cloud_target",
]

#: The real service's endpoint (:data:`taskcancel.DEFAULT_ENDPOINT`), for ``real_cloud`` tests.
REAL_CLOUD_ENDPOINT = DEFAULT_ENDPOINT

_MARKER = (
    "real_cloud: runs against the taskcancel emulator, or against the real ECS endpoint "
    "when TASKCANCEL_REAL_CLOUD=1 (skipped without ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET)"
)
_TRUE = frozenset({"1", "true", "yes", "on"})


@attrs.frozen
class CloudTarget:
    """Where a test talks to: the emulator (``emulator`` set) or the real service."""

    endpoint: str
    access_key_id: str
    access_key_secret: str = attrs.field(repr=False)
    emulator: EmulatorServer | None = None

    @property
    def is_real(self) -> bool:
        """True when this is the real Alibaba Cloud service."""
        return self.emulator is None

    def client(self, *, signature: str = "acs3", timeout: float = 10.0) -> Client:
        """A :class:`~taskcancel.Client` over a signing HTTP transport to this target."""
        return signed_client(
            self.endpoint,
            self.access_key_id,
            self.access_key_secret,
            signature=signature,
            timeout=timeout,
        )

    def sdk_config(self, region_id: str = "cn-hangzhou", **options: Any) -> Any:
        """A ready ``alibabacloud_tea_openapi`` ``Config`` for the official SDK."""
        return sdk_config(
            self.endpoint, self.access_key_id, self.access_key_secret, region_id, **options
        )


def real_cloud_target(environ: Mapping[str, str] | None = None) -> CloudTarget | str | None:
    """What ``real_cloud`` tests should use, from the environment.

    ``None``: the emulator (``TASKCANCEL_REAL_CLOUD`` is not set to 1). A
    :class:`CloudTarget`: the real service. A string: why the tests must be skipped.
    """
    env = os.environ if environ is None else environ
    if env.get("TASKCANCEL_REAL_CLOUD", "").strip().lower() not in _TRUE:
        return None
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
    if not key_id or not secret:
        return (
            "TASKCANCEL_REAL_CLOUD=1 but ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET are not both set"
        )
    endpoint = env.get("TASKCANCEL_REAL_CLOUD_ENDPOINT") or REAL_CLOUD_ENDPOINT
    return CloudTarget(endpoint, key_id, secret)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("real_cloud") is None:
        return
    target = real_cloud_target()
    if isinstance(target, str):
        pytest.skip(target)


@pytest.fixture(scope="session")
def _ecs_shared() -> Iterator[SharedEmulator]:
    """The session's emulator and clock (the server starts on first use)."""
    shared = SharedEmulator()
    yield shared
    shared.close()


@pytest.fixture
def ecs_clock(_ecs_shared: SharedEmulator) -> FakeClock:
    """A fake clock at its start, shared by ``ecs_memory_store`` and ``ecs_emulator``."""
    _ecs_shared.clock.rewind(DEFAULT_START)
    return _ecs_shared.clock


@pytest.fixture
def ecs_memory_store(ecs_clock: FakeClock) -> MemoryStore:
    """An empty in-memory world with every ECS region, on ``ecs_clock``."""
    return MemoryStore(clock=ecs_clock)


@pytest.fixture
def ecs_memory(ecs_memory_store: MemoryStore) -> Iterator[Client]:
    """A client over the in-memory mock; add tasks through ``ecs_memory_store``."""
    with Client(InMemoryTransport(ecs_memory_store)) as client:
        yield client


@pytest.fixture
def ecs_emulator(
    ecs_clock: FakeClock, monkeypatch: pytest.MonkeyPatch, _ecs_shared: SharedEmulator
) -> Iterator[EmulatorServer]:
    """The session's emulator (no tasks; ``testid``/``testsecret``), reset for this test.

    The proxy variables are unset for the test, so the official SDKs reach it.
    """
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    if ecs_clock is not _ecs_shared.clock:  # the test's own clock: a server of its own
        with EmulatorServer(clock=ecs_clock) as server:
            yield server
        return
    yield _ecs_shared.checkout()


@pytest.fixture
def ecs_journal(ecs_emulator: EmulatorServer) -> RequestJournal:
    """``ecs_emulator``'s request journal, empty at the start of the test: ``entries()``,
    ``assert_called(action, times=None, **params)``, ``assert_not_called``, ``clear()``."""
    journal = RequestJournal.of_server(ecs_emulator)
    journal.clear()
    return journal


@pytest.fixture
def ecs_endpoint(request: pytest.FixtureRequest) -> CloudTarget:
    """The emulator, or the real service for a ``real_cloud`` test when asked to."""
    if request.node.get_closest_marker("real_cloud") is not None:
        target = real_cloud_target()
        if isinstance(target, str):
            pytest.skip(target)
        if target is not None:
            return target
    server: EmulatorServer = request.getfixturevalue("ecs_emulator")
    return CloudTarget(server.endpoint, server.access_key_id, server.access_key_secret, server)


@pytest.fixture
def ecs_client(ecs_endpoint: CloudTarget) -> Iterator[Client]:
    """A signed HTTP client to ``ecs_endpoint``, closed afterwards."""
    with ecs_endpoint.client() as client:
        yield client


@pytest.fixture
def ecs_mock(ecs_emulator: EmulatorServer) -> Iterator[EmulatorServer]:
    """``ecs_emulator``, with every official-SDK client created in the test pointed at it."""
    with mock_ecs(ecs_emulator):
        yield ecs_emulator
