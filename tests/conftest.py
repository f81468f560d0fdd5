"""Shared pytest set-up: the hypothesis profile and fixtures for real `taskcancel serve` runs."""

from __future__ import annotations

from collections.abc import Iterator as _Iterator

import pytest as _pytest
from _serve import ServedEmulator as _ServedEmulator
from _serve import ServePool as _ServePool
from hypothesis import HealthCheck as _HealthCheck
from hypothesis import settings as _settings

# CI runs on two shared cores: time limits per example would only measure the machine.
_settings.register_profile(
    "taskcancel", deadline=None, suppress_health_check=[_HealthCheck.too_slow]
)
_settings.load_profile("taskcancel")

# --- real `taskcancel serve` processes, one per error profile (helpers in tests/_serve.py) ---


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
