"""The event loop the server runs on: uvloop's when it is installed, else asyncio's own.

uvloop (in the ``server`` extra) runs the same ``asyncio.Protocol`` code with its loop and
transports written in C: measured side by side (``benchmarks/bench_sdk_overhead.py``),
it takes about 30-40 µs off each sequential call's round trip and a few µs of CPU off
each request under load (``benchmarks/bench_emulator.py``). Without it (another platform,
a bare install) the server behaves the same, only slower.
"""

from __future__ import annotations

import asyncio

__all__ = ["new_event_loop"]


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new event loop for the server: uvloop's if it can be imported, else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
