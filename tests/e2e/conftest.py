"""Fixtures for the end-to-end tier: real ``taskcancel serve`` processes.

Each pytest-xdist worker has its own session, so its own pool: ports are 0, paths are
under the worker's ``tmp_path_factory``, nothing is shared between workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.serve import ServedEmulator, ServePool


@pytest.fixture(scope="session")
def serve_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServePool]:
    """Lazily started ``taskcancel serve --world ... --profile P`` subprocesses."""
    pool = ServePool(tmp_path_factory.mktemp("serve"))
    yield pool
    pool.close()


@pytest.fixture(scope="session", params=["2017", "current"])
def served(request: pytest.FixtureRequest, serve_pool: ServePool) -> ServedEmulator:
    """A running ``taskcancel serve`` over the fixture world, for each profile."""
    return serve_pool.get(request.param)
