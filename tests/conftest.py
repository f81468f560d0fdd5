"""Shared pytest fixtures for the taskcancel test suite."""

from __future__ import annotations

# --- real `taskcancel serve` processes, one per error profile (helpers in tests/_serve.py) ---
from collections.abc import Iterator as _Iterator

import pytest as _pytest
from _serve import ServedEmulator as _ServedEmulator
from _serve import ServePool as _ServePool


@_pytest.fixture(scope="session")
def serve_pool(tmp_path_factory: _pytest.TempPathFactory) -> _Iterator[_ServePool]:
    """Lazily started ``taskcancel serve --world ... --profile P`` subprocesses."""
    pool = _ServePool(tmp_path_factory.mktemp("serve"))
    yield pool
    pool.close()


@_pytest.fixture(scope="session", params=["2017", "current"])
def served(request: _pytest.FixtureRequest, serve_pool: _ServePool) -> _ServedEmulator:
    """A running ``taskcancel serve`` over the fixture world, for each profile."""
    return serve_pool.get(request.param)


@_pytest.fixture
def no_proxy_env(monkeypatch: _pytest.MonkeyPatch) -> None:
    """Unset the proxy variables: both SDKs honour them and ignore NO_PROXY."""
    from _serve import PROXY_VARIABLES

    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
