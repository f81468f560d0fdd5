"""Fixtures for the end-to-end tier: real ``taskcancel serve`` processes.

Each pytest-xdist worker has its own session, so its own pool: ports are 0, paths are
under the worker's ``tmp_path_factory``, nothing is shared between workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.serve import ServedEmulator, ServePool

#: The files that take longest (a serial run's seconds, longest first). ``--dist
#: loadfile`` hands whole files to workers in collection order, so a long file collected
#: last (``test_wheel.py`` sorts near the end) would run alone while the other workers
#: sit idle; started first, the short files fill in around them.
LONGEST_FIRST = (
    "test_wheel.py",
    "test_docs.py",
    "test_container.py",
    "test_cli_client.py",
    "test_connection.py",
    "test_serve_config.py",
    "test_plugin.py",
    "test_fault_rules_node_sdk.py",
    "test_dashboard_journal_view.py",
    "test_stalled_log.py",
    "test_dashboard.py",
    "test_cli_against_serve.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The files of :data:`LONGEST_FIRST` first, in that order; the rest as collected."""
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable


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
