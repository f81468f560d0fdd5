"""``FakeClock``: a clock that only moves when told to (like trio's ``MockClock``).

Used by tests (:mod:`taskcancel.testing` exports it) and by ``taskcancel serve --clock
fake``, whose control plane moves it.

Stores and the emulator read "now" from the clock they are given, so a test that hands
them a :class:`FakeClock` decides exactly when scheduled tasks start, progress and
finish, and what ``FinishedTime`` a cancel records.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_START", "FakeClock"]

#: Where a :class:`FakeClock` starts unless told otherwise.
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}: {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"{what} must be timezone-aware (UTC), got naive {value!r}")
    return value.astimezone(UTC)


class FakeClock:
    """A thread-safe fake clock; calling it returns the current (fake) UTC time.

    Use it wherever a :class:`~taskcancel.Clock` goes::

        clock = FakeClock()
        store = MemoryStore(tasks, clock=clock)
        clock.advance(seconds=90)

    Time never moves by itself and never moves backwards: :meth:`advance` refuses a
    negative step and :meth:`set` refuses an earlier time, because stores assume that a
    finished task stays finished.
    """

    def __init__(self, start: datetime = DEFAULT_START) -> None:
        self._now = _aware(start, "start")
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def __repr__(self) -> str:
        return f"<FakeClock {self().isoformat()}>"

    @property
    def now(self) -> datetime:
        """The current fake time (the same as calling the clock)."""
        return self()

    def advance(
        self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0
    ) -> datetime:
        """Move forward by the given amount; returns the new time."""
        step = timedelta(seconds=seconds, minutes=minutes, hours=hours)
        if step < timedelta(0):
            raise ValueError(f"a FakeClock cannot go backwards (asked to advance by {step})")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (timezone-aware, not earlier than now); returns it in UTC."""
        target = _aware(when, "when")
        with self._lock:
            if target < self._now:
                raise ValueError(
                    f"a FakeClock cannot go backwards: it is {self._now.isoformat()}, "
                    f"asked to set {target.isoformat()}"
                )
            self._now = target
            return target

    def rewind(self, when: datetime) -> datetime:
        """Put the clock at ``when``, earlier or not: only with the whole world it drives.

        The control plane's reset and ``PUT world`` use it, because they also put back
        every task the clock's earlier readings could have finished.
        """
        target = _aware(when, "when")
        with self._lock:
            self._now = target
            return target
