"""The testing kit: strategies, a transport conformance machine, the emulator in a thread."""

from __future__ import annotations

from ._server import EmulatorServer

__all__ = ["EmulatorServer"]
