"""The stores: the world (regions, accounts' tasks) held and changed atomically.

:class:`Store` is the protocol (``_memory``); :class:`MemoryStore` (``_memory``) and
:class:`~taskcancel.SqliteStore` (``sqlite``) implement it over one shared base
(``_base``). ``_clock`` holds the clocks they read.
"""

from . import _memory
from ._memory import *  # noqa: F403  (the names of __all__ below)

__all__ = _memory.__all__
