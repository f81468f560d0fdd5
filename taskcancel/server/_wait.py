"""One :class:`~._request.Deferred` waited for on the event loop, holding no thread.

A journal long-poll (``GET /_taskcancel/requests?wait=...``) is answered when something
it waits for happens or when it expires, whichever comes first, and exactly once. The
connection starts a :class:`Wait` and is told the answer through ``done``; ``wake`` calls
from any thread are moved onto the loop, and the subscription and the expiry timer are
released as soon as the answer is given (or the wait is dropped with :meth:`Wait.cancel`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from ._request import Answer, Deferred
from ._transport import Loop, Timer

__all__ = ["Wait"]


class Wait:
    """Wait for ``deferred`` on ``loop``; call ``done(answer)`` once it has its answer."""

    def __init__(self, loop: Loop, deferred: Deferred, done: Callable[[Answer], None]) -> None:
        self.loop = loop
        self.deferred = deferred
        self.done = done
        self.unsubscribe: Callable[[], None] | None = None
        self.expiry: Timer | None = None
        self.over = False

    def start(self) -> Answer | None:
        """The answer if the deferred has it already (``done`` is not called then); else
        ``None``, and ``done`` is called later, on the loop."""
        answer = self.deferred.poll()
        if answer is not None:
            self.over = True
            return answer
        loop = self.loop

        def wake() -> None:  # from any thread
            with contextlib.suppress(RuntimeError):  # the loop closed: the server is gone
                loop.call_soon_threadsafe(self._woken)

        self.unsubscribe = self.deferred.subscribe(wake)
        self.expiry = loop.call_later(self.deferred.timeout, self._expired)
        answer = self.deferred.poll()  # it may have become ready before the subscription
        if answer is not None:
            self.cancel()
        return answer

    def expire_now(self) -> None:
        """Answer now with what it has (the connection is going away)."""
        if not self.over:
            self._settle(self.deferred.expire())

    def cancel(self) -> None:
        """Stop waiting without an answer (the client is gone)."""
        self.over = True
        unsubscribe, self.unsubscribe = self.unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()
        expiry, self.expiry = self.expiry, None
        if expiry is not None:
            expiry.cancel()

    def _woken(self) -> None:
        if not self.over:
            answer = self.deferred.poll()
            if answer is not None:
                self._settle(answer)

    def _expired(self) -> None:
        self.expiry = None
        if not self.over:
            self._settle(self.deferred.expire())

    def _settle(self, answer: Answer) -> None:
        self.cancel()
        self.done(answer)
