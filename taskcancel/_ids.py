"""Request ids: shaped like the real service's (upper-case version-4 UUIDs), cheap to make."""

from __future__ import annotations

import itertools
import os

__all__ = ["RequestIds", "uuid_request_ids"]


def uuid_request_ids() -> str:
    """A RequestId like the real service's: an upper-case random (version 4) UUID."""
    h = os.urandom(16).hex().upper()
    variant = "89AB"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


class RequestIds:
    """Unique, UUID-shaped ids without a system call each: a random prefix, then a counter.

    The first 80 bits are random per generator (so two servers do not collide), the last
    48 count up from a random start; thread-safe (``itertools.count`` under the GIL).
    """

    def __init__(self) -> None:
        head = uuid_request_ids()
        self._prefix = head[:24]  # "XXXXXXXX-XXXX-4XXX-YXXX-"
        self._count = itertools.count(int.from_bytes(os.urandom(6), "big"))

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012X}"
