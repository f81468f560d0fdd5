"""The world file: regions, accounts, tasks and faults as JSON in the API's own field names.

A public namespace (``from taskcancel import worldfile``): :func:`load_world` reads and
validates a file, :func:`parse_world` a decoded document, :func:`world_to_json` writes
one; :class:`WorldFileError` names the file, the field and the reason.
"""

from . import _world
from ._world import *  # noqa: F403  (the names of __all__ below)

__all__ = _world.__all__
