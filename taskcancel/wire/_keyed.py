"""HMACs keyed once per secret: each key's inner and outer pads are hashed on first use,
then copied for every message (a signature check per request, always the same few keys).

Pure: a bounded cache of values derived from the key, no clock, no I/O.
"""

from __future__ import annotations

import hmac

__all__ = ["mac"]

#: Keys remembered (per digest) before the cache starts over.
_MAX_KEYS = 64
_keyed: dict[tuple[bytes, str], hmac.HMAC] = {}


def mac(key: bytes, message: bytes, digest: str) -> bytes:
    """``hmac.new(key, message, digest).digest()`` (``digest``: ``"sha1"``, ``"sha256"``)."""
    keyed = _keyed.get((key, digest))
    if keyed is None:
        keyed = hmac.new(key, digestmod=digest)
        if len(_keyed) >= _MAX_KEYS:  # bounded, however many accounts sign
            _keyed.clear()
        _keyed[key, digest] = keyed
    one = keyed.copy()
    one.update(message)
    return one.digest()
