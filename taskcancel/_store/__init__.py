"""The stores: the world (regions, accounts' tasks) held and changed atomically.

:class:`Store` is the protocol (``_memory``); :class:`MemoryStore` (``_memory``) and
:class:`~taskcancel.SqliteStore` (``sqlite``) implement it over one shared base
(``_base``). ``_clock`` holds the clocks they read.
"""

from ._memory import (
    UNCHANGED,
    Clock,
    DuplicateTaskError,
    MemoryStore,
    Store,
    TaskChanges,
    TaskNotFoundError,
    Unchanged,
    UnknownRegionError,
    system_clock,
)

__all__ = [
    "UNCHANGED",
    "Clock",
    "DuplicateTaskError",
    "MemoryStore",
    "Store",
    "TaskChanges",
    "TaskNotFoundError",
    "Unchanged",
    "UnknownRegionError",
    "system_clock",
]
