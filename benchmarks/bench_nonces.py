"""Replay protection's memory: one account's full NonceRegistry, by nonce shape.

Run from the repository root::

    python benchmarks/bench_nonces.py            # 100,000 nonces (the default capacity)
    python benchmarks/bench_nonces.py --quick    # 10,000

An account's registry holds up to ``nonce_capacity`` nonces (100,000 by default) for the
replay window; when it is full of nonces still inside the window the account is
throttled, nothing is forgotten. This fills one account's registry with nonces of three
shapes -- 32 hex digits (what the official SDKs send), ``wire.MAX_NONCE_LENGTH`` ASCII
characters, and as many 4-byte characters (the longest in memory the wire accepts) --
and reports what it keeps, by ``tracemalloc``, in bytes per nonce and per account.
Baseline, same run: the same ordered map keyed by the nonce strings themselves. Also the
time of one ``check`` (registry not full; full). Nothing here asserts.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
import tracemalloc
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from taskcancel import wire
from taskcancel.server._nonces import FULL, NEW, NonceRegistry

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LONG = wire.MAX_NONCE_LENGTH


def shapes(count: int) -> dict[str, Callable[[int], str]]:
    """Nonce makers by shape; each call makes a new string (as parsing a request does)."""
    rng = random.Random(7)
    ascii_text = "".join(rng.choices("0123456789abcdef", k=count + LONG))
    wide_text = "".join(chr(0x10000 + rng.randrange(0xFFFF)) for _ in range(count + LONG))
    return {
        "SDK: 32 hex digits": lambda i: uuid.uuid4().hex,
        f"{LONG} ASCII characters": lambda i: ascii_text[i : i + LONG],
        f"{LONG} 4-byte characters": lambda i: wide_text[i : i + LONG],
    }


class StringKeyed:
    """Baseline: the registry's layout with the nonce strings themselves as keys."""

    def __init__(self) -> None:
        self.entries: OrderedDict[str, float] = OrderedDict()

    def check(self, access_key_id: str, nonce: str, now: datetime) -> str:
        if nonce in self.entries:
            return "replay"
        self.entries[nonce] = now.timestamp()
        return NEW


def fill(registry: NonceRegistry | StringKeyed, make: Callable[[int], str], count: int) -> float:
    """Bytes per nonce kept once ``count`` nonces are in (a millisecond apart)."""
    times = [NOW + timedelta(seconds=i / 1000) for i in range(count)]
    gc.collect()
    tracemalloc.start()
    for i in range(count):
        if registry.check("testid", make(i), times[i]) != NEW:
            raise RuntimeError(f"nonce {i} was not new")
    kept, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return kept / count


def check_ns(count: int, make: Callable[[int], str]) -> tuple[float, float]:
    """ns per ``check``: filling an empty registry, then refused by the full one."""
    nonces = [make(i) for i in range(count)]
    registry = NonceRegistry(max_entries=count)
    start = time.perf_counter()
    for nonce in nonces:
        registry.check("testid", nonce, NOW)
    filling = (time.perf_counter() - start) / count * 1e9
    start = time.perf_counter()
    for nonce in nonces[: count // 10]:
        if registry.check("testid", nonce + "x", NOW) != FULL:
            raise RuntimeError("the registry should be full")
    full = (time.perf_counter() - start) / (count // 10) * 1e9
    return filling, full


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10,000 nonces instead of 100,000")
    count = 10_000 if parser.parse_args().quick else 100_000
    rows = []
    print(f"one account, {count:,} nonces (tracemalloc; bytes kept per nonce)")
    for name, make in shapes(count).items():
        ours = fill(NonceRegistry(max_entries=count), make, count)
        base = fill(StringKeyed(), make, count)
        rows.append((name, ours, base))
        print(f"  {name:24} registry {ours:6.1f} B   strings as keys {base:6.1f} B")
    filling, full = check_ns(count, shapes(count)["SDK: 32 hex digits"])
    print(f"check(): {filling:.0f} ns filling, {full:.0f} ns refused as full")
    print()
    print(f"| nonce shape | per nonce | per account ({count:,}) | strings as keys | target |")
    print("|---|---|---|---|---|")
    for name, ours, base in rows:
        met = "yes" if ours < 200 else "NO"
        print(
            f"| {name} | {ours:.0f} B | {ours * count / 1e6:.1f} MB | {base:.0f} B "
            f"({base * count / 1e6:.1f} MB) | < 200 B, any shape: {met} |"
        )


if __name__ == "__main__":
    main()
