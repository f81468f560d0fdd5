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


_MASK = 0xFFFFFFFFFFFF  # 48 bits
#: An odd multiplier: ``n -> (n * _MIX) mod 2**48`` is a permutation of the 48-bit numbers.
_MIX = 0x9E3779B97F4B


class RequestIds:
    """Unique, UUID-shaped ids without a system call each: a random prefix, then a counter.

    The first 80 bits are random per generator (so two servers do not collide). The last
    48 are a counter from a random start, scrambled by a fixed permutation of the 48-bit
    numbers and a random mask, so they stay unique (for 2**48 ids) but consecutive ids do
    not reveal how many requests were answered in between (a tenant could otherwise
    measure everyone's traffic). Thread-safe (``itertools.count`` under the GIL).
    """

    def __init__(self) -> None:
        head = uuid_request_ids()
        self._prefix = head[:24]  # "XXXXXXXX-XXXX-4XXX-YXXX-"
        self._count = itertools.count(int.from_bytes(os.urandom(6), "big"))
        self._mask = int.from_bytes(os.urandom(6), "big")

    def __call__(self) -> str:
        return f"{self._prefix}{((next(self._count) * _MIX) & _MASK) ^ self._mask:012X}"
