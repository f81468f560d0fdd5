"""The world file: regions, accounts, tasks and faults as JSON in the API's own field names.

A public namespace (``from taskcancel import worldfile``): :func:`load_world` reads and
validates a file, :func:`parse_world` a decoded document, :func:`world_to_json` writes
one; :class:`WorldFileError` names the file, the field and the reason.
"""

from ._demo import demo_world
from ._world import (
    DEFAULT_ACCOUNTS,
    NO_FAULTS,
    Faults,
    WorldFileError,
    WorldSpec,
    load_world,
    parse_faults,
    parse_schedule,
    parse_world,
    printable,
)
from ._write import faults_to_json, task_to_json, world_to_json

__all__ = [
    "DEFAULT_ACCOUNTS",
    "NO_FAULTS",
    "Faults",
    "WorldFileError",
    "WorldSpec",
    "demo_world",
    "faults_to_json",
    "load_world",
    "parse_faults",
    "parse_schedule",
    "parse_world",
    "printable",
    "task_to_json",
    "world_to_json",
]
