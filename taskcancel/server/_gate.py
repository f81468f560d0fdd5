"""``WorldGate``: every ECS request sees one world, whatever the control plane does meanwhile.

A world is more than the store: it is the store's tasks, the clock that drives their
schedules, the accounts, the faults and the nonces. The control plane's reset and world
load change several of them; an ECS request reads several. Each request holds the gate
*shared* while it is answered (many at once, as before), and a reset or load holds it
*exclusive*: it waits for the requests under way, and new requests wait for it (a waiting
reset goes first, so a steady stream of requests cannot hold it off). A request therefore
sees the old world or the new one, never a mix -- with the in-memory store, whose requests
all run on the event loop, and with SQLite, whose requests run in threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["WorldGate"]


class WorldGate:
    """``with gate:`` shares it (a request); ``with gate.exclusive():`` holds it alone.

    Not re-entrant: a holder must not enter it again.
    """

    __slots__ = ("_changing", "_cond", "_lock", "_readers", "_waiting")

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the condition's own lock, taken directly when no wait
        self._cond = threading.Condition(self._lock)
        self._readers = 0  # requests under way
        self._waiting = 0  # changes waiting for them
        self._changing = False

    def __enter__(self) -> None:
        with self._lock:
            while self._changing or self._waiting:
                self._cond.wait()
            self._readers += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._readers -= 1
            if not self._readers and self._waiting:
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the gate alone: no request is under way until this block ends."""
        with self._cond:
            self._waiting += 1
            try:
                while self._changing or self._readers:
                    self._cond.wait()
            finally:
                self._waiting -= 1
            self._changing = True
        try:
            yield
        finally:
            with self._cond:
                self._changing = False
                self._cond.notify_all()
