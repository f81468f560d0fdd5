"""The event loop the server runs on: uvloop's when it is installed, else asyncio's own.

uvloop (in the ``server`` extra) runs the same ``asyncio.Protocol`` code with its loop and
transports written in C: measured side by side (``benchmarks/bench_sdk_overhead.py``),
it takes about 30-40 µs off each sequential call's round trip and a few µs of CPU off
each request under load (``benchmarks/bench_emulator.py``). Without it (another platform,
a bare install) the server behaves the same, only slower.

The environment variable ``TASKCANCEL_LOOP`` chooses: ``asyncio`` (asyncio's own loop even
when uvloop is installed: what a bare install runs, for tests), ``uvloop`` (uvloop's, an
error when it is missing), or ``auto`` / unset (uvloop's when installed).
"""

from __future__ import annotations

import asyncio
import os

__all__ = ["LOOPS", "LOOP_VARIABLE", "new_event_loop"]

LOOP_VARIABLE = "TASKCANCEL_LOOP"
LOOPS = ("auto", "asyncio", "uvloop")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the server, as ``TASKCANCEL_LOOP`` says (see above)."""
    choice = os.environ.get(LOOP_VARIABLE, "auto").strip().lower() or "auto"
    if choice not in LOOPS:
        raise ValueError(f"{LOOP_VARIABLE} must be one of {', '.join(LOOPS)}, got {choice!r}")
    if choice == "asyncio":
        return asyncio.new_event_loop()
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ImportError(f"{LOOP_VARIABLE}=uvloop, but uvloop is not installed") from None
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
