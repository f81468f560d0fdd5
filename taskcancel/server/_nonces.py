"""Replay protection: each account's nonces, remembered for as long as a request can replay.

A signed request is acceptable while its timestamp is within the window (15 minutes either
side by default), so its nonce must be remembered for twice that. Memory is bounded per
account: when an account's share is full of nonces that are all still inside the window,
the account's new requests are refused (``Throttling.User``, with a retry hint) rather
than any nonce forgotten -- forgetting one would let a captured request replay. A caller
can only ever fill its own share (call :meth:`NonceRegistry.check` only after the
signature checks out). State with a lock: it belongs to the server, not the wire.

A nonce is remembered by a 16-byte keyed BLAKE2b digest (the key is random, per
registry), so each costs the same memory whatever its length or characters. Two nonces
could share a digest with a chance of about 2**-128 a pair; that could only refuse a
request as a replay, never let a replay through.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections import OrderedDict
from datetime import datetime, timedelta

__all__ = ["FULL", "NEW", "REPLAY", "NonceRegistry"]

NEW, REPLAY, FULL = "new", "replay", "full"


class NonceRegistry:
    """``check(key, nonce, now)``: ``NEW`` (now remembered), ``REPLAY`` or ``FULL``.

    ``max_entries`` nonces per access key. A full share costs about 178 bytes a nonce
    (digest, time, the ordered map's entry; ``benchmarks/bench_nonces.py``, tracemalloc):
    about 17.8 MB per account at the default 100,000, whatever the nonces (32 hex
    digits as the SDKs send, or ``wire.MAX_NONCE_LENGTH`` characters of any kind).
    Kept as strings they would cost 196 and, at the worst, 703 bytes a nonce. So an
    account is accepted at most ``max_entries`` requests in any span of ``window``.
    """

    def __init__(
        self, *, window: timedelta = timedelta(minutes=30), max_entries: int = 100_000
    ) -> None:
        if not isinstance(max_entries, int) or max_entries < 1:
            raise ValueError(f"max_entries must be an int of at least 1, got {max_entries!r}")
        self._window = window.total_seconds()
        self._max_entries = max_entries
        self._by_key: dict[str, OrderedDict[bytes, float]] = {}
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(16)

    def clear(self) -> None:
        """Forget every nonce (a reset of the whole world)."""
        with self._lock:
            self._by_key.clear()

    def __len__(self) -> int:
        with self._lock:
            return sum(len(entries) for entries in self._by_key.values())

    def check(self, access_key_id: str, nonce: str, now: datetime) -> str:
        """Record ``nonce`` unless it was used within the window or the share is full."""
        moment = now.timestamp()
        cutoff = moment - self._window
        text = nonce.encode("utf-8", "surrogatepass")
        nonce_id = hashlib.blake2b(text, digest_size=16, key=self._secret).digest()
        with self._lock:
            entries = self._by_key.get(access_key_id)
            if entries is None:
                entries = self._by_key[access_key_id] = OrderedDict()
            while entries:
                oldest_nonce, oldest_time = next(iter(entries.items()))
                if oldest_time >= cutoff:
                    break
                del entries[oldest_nonce]
            recorded = entries.get(nonce_id)
            if recorded is not None:
                if recorded >= cutoff:
                    return REPLAY
                del entries[nonce_id]  # stale, left behind by a clock that went backwards
            if len(entries) >= self._max_entries:
                return FULL
            entries[nonce_id] = moment
            return NEW

    def retry_after_ms(self, access_key_id: str, now: datetime) -> int:
        """Milliseconds until the account's oldest nonce leaves the window (a retry hint)."""
        with self._lock:
            entries = self._by_key.get(access_key_id)
            if not entries:
                return 0
            oldest = next(iter(entries.values()))
        return max(0, int((oldest + self._window - now.timestamp()) * 1000) + 1)
