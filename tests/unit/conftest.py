"""The unit tier does no I/O outside the process: no socket, no subprocess, no server.

An autouse fixture makes each of those raise :class:`NoIOInUnitTests` naming what was
attempted and where such a test belongs (``tests/e2e/``). Sockets made from an existing
file descriptor stay allowed: ``socket.socketpair()`` (which an asyncio loop uses to wake
itself) is not network I/O. A SQLite file under ``tmp_path`` is allowed: it is the store.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.no_io import forbid_io


@pytest.fixture(autouse=True)
def _no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    forbid_io(monkeypatch)
    yield
