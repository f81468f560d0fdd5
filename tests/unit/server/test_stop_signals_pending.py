"""A stop signal that came while it was blocked (a container's PID 1 blocks SIGTERM until
the handler is in place: for PID 1 an unhandled, unblocked SIGTERM is discarded) is
received as soon as :class:`StopSignals` takes over."""

from __future__ import annotations

import atexit
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

from taskcancel.server import _signals
from taskcancel.server._signals import StopSignals


@pytest.fixture
def sigterm_blocked() -> Iterator[list[int]]:
    """SIGTERM blocked, with a handler of its own underneath (so no pending SIGTERM can
    ever reach the default action, which would kill the test run)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    underneath: list[int] = []

    def note(signum: int, frame: FrameType | None) -> None:
        underneath.append(signum)

    old_int = signal.getsignal(signal.SIGINT)
    old_handler = signal.signal(signal.SIGTERM, note)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield underneath
    finally:
        signal.signal(signal.SIGTERM, note)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)  # a pending one lands in note
        signal.signal(signal.SIGTERM, old_handler)
        signal.signal(signal.SIGINT, old_int)
        # A StopSignals stopped by a signal leaves its handlers and an exit hook (the
        # process is meant to be exiting): this one is not.
        atexit.unregister(_signals._ignore_at_exit)


def test_a_sigterm_pending_while_blocked_is_received_when_stop_signals_starts(
    sigterm_blocked: list[int],
) -> None:
    signal.raise_signal(signal.SIGTERM)  # blocked: pending, not delivered
    assert signal.SIGTERM in signal.sigpending()

    with StopSignals() as signals:
        received = signals.received

    assert received == signal.SIGTERM
    assert sigterm_blocked == []  # it went to StopSignals, not to the handler underneath
    assert signal.SIGTERM not in signal.pthread_sigmask(signal.SIG_BLOCK, set())
