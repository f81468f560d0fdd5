"""The world file: regions, accounts, tasks and faults, as JSON in the API's own field names.

::

    {
      "Regions": ["cn-hangzhou", "cn-shanghai"],
      "Accounts": [{"AccessKeyId": "testid", "AccessKeySecret": "testsecret"}],
      "Tasks": [
        {"TaskId": "t-23ym6mvro", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
         "TaskStatus": "Processing", "AccessKeyId": "testid",
         "CreationTime": "2026-11-27T10:00Z", "CancelFails": false,
         "Schedule": {"QueuedSeconds": 0, "ProcessingSeconds": 600, "Outcome": "Finished"}}
      ],
      "Faults": {"ThrottleRate": 0.0, "RetryAfterMs": 1000, "LatencyMs": 0}
    }

``Regions`` defaults to the built-in ECS list; ``Accounts`` to one account
``testid``/``testsecret``; a task's ``AccessKeyId`` to the first account, and its
``RegionId`` to the only region when ``Regions`` lists exactly one. A task
entry also accepts DescribeTasks' own fields (``SupportCancel`` is derived, so it
is ignored), so DescribeTasks output can be pasted in. A bad file is refused with
:class:`WorldFileError`, naming the file, the field and the reason.

Parsing is pure (:func:`parse_world`); :func:`load_world` only adds reading the file.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from .._core._model import ECS_REGIONS, Schedule, Task, TaskStatus
from .._core._text import printable, shown
from ..api._shapes import task_from_api
from ..worldfile._json import WorldFileError, check_values, decode_json
from ._rules import DEFAULT_MAX_STALL_SECONDS, FaultRule, parse_rules

__all__ = [
    "DEFAULT_ACCOUNTS",
    "NO_FAULTS",
    "Faults",
    "WorldFileError",
    "WorldSpec",
    "load_world",
    "parse_faults",
    "parse_schedule",
    "parse_world",
    "printable",
]

#: The default account, as in the Alibaba Cloud signature documentation.
DEFAULT_ACCOUNTS: Mapping[str, str] = {"testid": "testsecret"}

_TASK_KEYS = frozenset(
    {
        "TaskId",
        "RegionId",
        "TaskAction",
        "TaskStatus",
        "AccessKeyId",
        "CreationTime",
        "FinishedTime",
        "ResourceId",
        "TaskProcess",
        "SupportCancel",
        "CancelFails",
        "Schedule",
    }
)
_SCHEDULE_KEYS = frozenset({"QueuedSeconds", "ProcessingSeconds", "Outcome"})
#: ``Now`` is what ``GET /_taskcancel/state`` (and ``taskcancel state --json``) adds: a
#: saved state loads as a world file; only ``PUT /_taskcancel/world`` reads it.
_TOP_KEYS = frozenset({"Regions", "Accounts", "Tasks", "Faults", "Now"})
_FAULT_KEYS = frozenset({"ThrottleRate", "RetryAfterMs", "LatencyMs", "Rules"})


def _rule_tuple(rules: Sequence[FaultRule]) -> tuple[FaultRule, ...]:
    return tuple(rules)


@attrs.frozen
class Faults:
    """Injected trouble: a share of requests throttled, latency added to each, and fault
    rules (:class:`~._rules.FaultRule`, docs/faults.md; the first that matches and fires
    decides). ``retry_after_ms`` is also the hint of a rule's throttling ``Error``."""

    throttle_rate: float = 0.0
    retry_after_ms: int = 1000
    latency_ms: float = 0.0
    rules: tuple[FaultRule, ...] = attrs.field(default=(), converter=_rule_tuple)


NO_FAULTS = Faults()


@attrs.frozen
class WorldSpec:
    """What a world file describes."""

    regions: frozenset[str] = ECS_REGIONS
    accounts: Mapping[str, str] = attrs.field(factory=lambda: dict(DEFAULT_ACCOUNTS))
    tasks: tuple[Task, ...] = ()
    faults: Faults = NO_FAULTS


def _object(value: object, source: str, field: str, keys: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WorldFileError(source, field, f"must be an object, got {type(value).__name__}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise WorldFileError(
            source,
            f"{field}.{printable(unknown[0])}",
            f"unknown field; known: {', '.join(sorted(keys))}",
        )
    return value


def _list(value: object, source: str, field: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise WorldFileError(source, field, f"must be a list, got {type(value).__name__}")
    return value


def _number(value: object, source: str, field: str, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise WorldFileError(
            source, field, f"must be a number in [{low}, {high}], got {shown(value)}"
        )
    return float(value)


def _schedule(value: object, source: str, field: str) -> Schedule:
    data = _object(value, source, field, _SCHEDULE_KEYS)
    try:
        return Schedule(
            queued_seconds=_number(
                data.get("QueuedSeconds", 0), source, f"{field}.QueuedSeconds", low=0, high=1e9
            ),
            processing_seconds=_number(
                data.get("ProcessingSeconds", 60),
                source,
                f"{field}.ProcessingSeconds",
                low=1e-3,
                high=1e9,
            ),
            outcome=TaskStatus(data.get("Outcome", "Finished")),
        )
    except ValueError as exc:
        if isinstance(exc, WorldFileError):
            raise
        raise WorldFileError(source, f"{field}.Outcome", "must be Finished or Failed") from None


def _task(
    value: object,
    source: str,
    field: str,
    accounts: Mapping[str, str],
    now: datetime | None,
    default_region: str | None,
) -> Task:
    data = _object(value, source, field, _TASK_KEYS)
    region = data.get("RegionId", default_region)
    if not isinstance(region, str) or not region:
        raise WorldFileError(
            source,
            f"{field}.RegionId",
            "required non-empty string (it may be left out only when Regions lists exactly one)",
        )
    owner = data.get("AccessKeyId", next(iter(accounts)))
    if not isinstance(owner, str) or owner not in accounts:
        raise WorldFileError(
            source, f"{field}.AccessKeyId", f"{shown(owner)} is not one of the Accounts"
        )
    try:
        task = task_from_api(data, region_id=region, owner=owner)
    except ValueError as exc:
        key, _, reason = str(exc).partition(": ")
        name = key if key in _TASK_KEYS else "Task"
        raise WorldFileError(source, f"{field}.{name}", reason or str(exc)) from None
    fails = data.get("CancelFails", False)
    if not isinstance(fails, bool):
        raise WorldFileError(
            source, f"{field}.CancelFails", f"must be true or false, got {shown(fails)}"
        )
    schedule = None
    if "Schedule" in data:
        schedule = _schedule(data["Schedule"], source, f"{field}.Schedule")
        if task.creation_time is None:
            if now is None:
                raise WorldFileError(source, f"{field}.CreationTime", "a Schedule needs it")
            task = attrs.evolve(task, creation_time=now.replace(microsecond=0))
    return attrs.evolve(task, cancel_fails=fails, schedule=schedule)


def parse_world(
    data: object,
    *,
    source: str = "<world>",
    now: datetime | None = None,
    error_codes: Collection[str] | None = None,
) -> WorldSpec:
    """Validate a decoded world file. ``now`` anchors schedules that give no CreationTime;
    ``error_codes``, when given, are the codes a fault rule's ``Error`` may name.

    Any structure is refused cleanly, with the field and the reason: nesting deeper than
    a world file has, text that is not valid Unicode (a lone surrogate), a number too
    long to be one.
    """
    check_values(data, source)
    top = _object(data, source, "(top level)", _TOP_KEYS)
    regions: frozenset[str] = ECS_REGIONS
    if "Regions" in top:
        items = _list(top["Regions"], source, "Regions")
        for i, region in enumerate(items):
            if not isinstance(region, str) or not region:
                raise WorldFileError(source, f"Regions[{i}]", "must be a non-empty string")
        if not items:
            raise WorldFileError(source, "Regions", "must list at least one region")
        regions = frozenset(items)
    accounts: dict[str, str] = {}
    if "Accounts" in top:
        for i, entry in enumerate(_list(top["Accounts"], source, "Accounts")):
            field = f"Accounts[{i}]"
            account = _object(entry, source, field, frozenset({"AccessKeyId", "AccessKeySecret"}))
            key_id, secret = account.get("AccessKeyId"), account.get("AccessKeySecret")
            if not isinstance(key_id, str) or not key_id:
                raise WorldFileError(source, f"{field}.AccessKeyId", "required non-empty string")
            if not isinstance(secret, str) or not secret:
                raise WorldFileError(
                    source, f"{field}.AccessKeySecret", "required non-empty string"
                )
            if key_id in accounts:
                raise WorldFileError(source, f"{field}.AccessKeyId", f"duplicate {shown(key_id)}")
            accounts[key_id] = secret
        if not accounts:
            raise WorldFileError(source, "Accounts", "must list at least one account")
    else:
        accounts = dict(DEFAULT_ACCOUNTS)
    tasks: list[Task] = []
    seen: set[tuple[str, str]] = set()
    for i, entry in enumerate(_list(top.get("Tasks", []), source, "Tasks")):
        only_region = next(iter(regions)) if len(regions) == 1 else None
        task = _task(entry, source, f"Tasks[{i}]", accounts, now, only_region)
        if task.region_id not in regions:
            raise WorldFileError(
                source, f"Tasks[{i}].RegionId", f"{shown(task.region_id)} is not one of the Regions"
            )
        if task.key in seen:
            raise WorldFileError(
                source,
                f"Tasks[{i}].TaskId",
                f"duplicate {shown(task.task_id)} in {shown(task.region_id)}",
            )
        seen.add(task.key)
        tasks.append(task)
    faults = (
        parse_faults(top["Faults"], source, "Faults", error_codes=error_codes)
        if "Faults" in top
        else Faults()
    )
    return WorldSpec(regions=regions, accounts=accounts, tasks=tuple(tasks), faults=faults)


def load_world(
    path: str | os.PathLike[str],
    *,
    now: datetime | None = None,
    error_codes: Collection[str] | None = None,
) -> WorldSpec:
    """Read and validate a world file; :class:`WorldFileError` says what is wrong where."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise WorldFileError(source, "(file)", exc.strerror or str(exc)) from None
    return parse_world_text(raw, source=source, now=now, error_codes=error_codes)


def parse_world_text(
    text: str | bytes,
    *,
    source: str = "<world>",
    now: datetime | None = None,
    error_codes: Collection[str] | None = None,
) -> WorldSpec:
    """Decode a world file's JSON (bytes must be UTF-8) and validate it.

    The decoding itself is guarded: JSON nested deeper than the parser can follow, and
    integers too long to convert, are :class:`WorldFileError`, never a traceback.
    """
    data = decode_json(text, source)
    return parse_world(data, source=source, now=now, error_codes=error_codes)


def parse_schedule(value: object, source: str, field: str) -> Schedule:
    """A world file's ``Schedule`` object; :class:`WorldFileError` names what is wrong."""
    return _schedule(value, source, field)


def parse_faults(
    value: object,
    source: str,
    field: str,
    *,
    error_codes: Collection[str] | None = None,
    max_stall_seconds: float = DEFAULT_MAX_STALL_SECONDS,
) -> Faults:
    """A world file's ``Faults`` object (absent fields take their defaults).

    ``error_codes``: the codes a rule's ``Error`` may name (``None``: not checked here);
    ``max_stall_seconds``: the request deadline a ``stall`` may not outlast.
    """
    f = _object(value, source, field, _FAULT_KEYS)
    rules = (
        parse_rules(
            f["Rules"],
            source,
            f"{field}.Rules",
            error_codes=error_codes,
            max_stall_seconds=max_stall_seconds,
        )
        if "Rules" in f
        else ()
    )
    return Faults(
        throttle_rate=_number(
            f.get("ThrottleRate", 0.0), source, f"{field}.ThrottleRate", low=0, high=1
        ),
        retry_after_ms=int(
            _number(f.get("RetryAfterMs", 1000), source, f"{field}.RetryAfterMs", low=0, high=1e7)
        ),
        latency_ms=_number(f.get("LatencyMs", 0), source, f"{field}.LatencyMs", low=0, high=6e4),
        rules=rules,
    )
