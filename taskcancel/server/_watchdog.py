"""A connection's one timer: rule 1 of :mod:`._protocol` (deadlines) and idle keep-alive.

One ``call_later`` per connection, re-armed only when it fires (a request costs no timer
work): it fires at the earliest moment something can be due, and no deadline set since it
was armed can be earlier, because every deadline is "now + request_timeout".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import wire

if TYPE_CHECKING:
    from ._protocol import Connection

__all__ = ["arm", "check"]


def arm(self: Connection, delay: float) -> None:
    """Wake :func:`check` for ``self`` in ``delay`` seconds."""
    self.timer = self.loop.call_later(delay, check, self)


def check(self: Connection) -> None:
    """The watchdog: enforce rule 1, close idle keep-alive connections, re-arm."""
    self.timer = None
    transport = self.transport
    if transport is None or transport.is_closing():
        return
    shared, now = self.shared, self.loop.time()
    drain = self.drain_deadline
    if drain is not None and not transport.get_write_buffer_size():
        drain = self.drain_deadline = None
    waiting = self.queue[0].started + shared.request_timeout if self.queue else None
    if (drain is not None and now >= drain) or (
        waiting is not None and self.paused and now >= waiting
    ):
        transport.abort()  # the client stopped taking its answers: cut it off
        return
    deadline = self.deadline
    if deadline is not None and now >= deadline:
        self._refuse(wire.gateway_error("RequestTimeout", seconds=shared.request_timeout))
        if not transport.is_closing():
            arm(self, shared.request_timeout)
        return
    outstanding = deadline is not None or self.queue or self.busy or drain is not None
    if not outstanding and now - self.idle_since >= shared.keep_alive:
        transport.close()
        return
    wake = [now + shared.request_timeout]
    wake += [t for t in (deadline, drain, waiting) if t is not None]
    if not outstanding:
        wake.append(self.idle_since + shared.keep_alive)
    arm(self, max(min(wake) - now, 0.001))
