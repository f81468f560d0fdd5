"""The world file: regions, accounts, tasks and faults as JSON in the API's own field names.

A public namespace (``from taskcancel import worldfile``): :func:`load_world` reads and
validates a file, :func:`parse_world` a decoded document, :func:`world_to_json` writes
one; :class:`WorldFileError` names the file, the field and the reason.
"""

from ._demo import demo_world
from ._rules import (
    DEFAULT_MAX_STALL_SECONDS,
    WHEN_KINDS,
    WIRE_FAULTS,
    FaultRule,
    check_rule_codes,
    parse_rules,
    rule_to_json,
)
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
    "DEFAULT_MAX_STALL_SECONDS",
    "NO_FAULTS",
    "WHEN_KINDS",
    "WIRE_FAULTS",
    "FaultRule",
    "Faults",
    "WorldFileError",
    "WorldSpec",
    "check_rule_codes",
    "demo_world",
    "faults_to_json",
    "load_world",
    "parse_faults",
    "parse_rules",
    "parse_schedule",
    "parse_world",
    "printable",
    "rule_to_json",
    "task_to_json",
    "world_to_json",
]
