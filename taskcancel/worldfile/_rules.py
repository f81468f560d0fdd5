"""Fault rules (docs/faults.md): the typed, frozen :class:`FaultRule` and its JSON form.

::

    {"Name": "first-two-cancels-throttled",
     "Match": {"Action": "CancelTask", "RegionId": "...", "TaskId": "...", "AccessKeyId": "..."},
     "When": {"First": 2},          # or Every / Calls / After / Probability, exactly one
     "Error": "Throttling.User",    # or "Fault": reset | reset-after | stall | truncate
     "LatencyMs": 250, "StallSeconds": 15}

:class:`FaultRule` checks itself when built (``ValueError`` naming the JSON field,
``"When.First: must be a positive integer, got 0"``); :func:`parse_rules` reads a
``Rules`` list and turns those into :class:`~._json.WorldFileError` naming
``Rules[i].FIELD``. Whether an ``Error`` code exists depends on the server's profile and
the gateway's table, which this layer does not see: the caller passes the valid codes
(``error_codes``). Firing and counting are the server's (``taskcancel.server._faults``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from .._core._text import printable, shown
from .._core._time import format_timestamp, parse_time
from ._json import WorldFileError

__all__ = [
    "DEFAULT_MAX_STALL_SECONDS",
    "WHEN_KINDS",
    "WIRE_FAULTS",
    "FaultRule",
    "check_rule_codes",
    "parse_rules",
    "rule_to_json",
]

#: The conditions a rule's ``When`` holds exactly one of.
WHEN_KINDS = ("First", "Every", "Calls", "After", "Probability")
#: What a ``Fault`` does to the connection (``taskcancel.server._request.WireFault``).
WIRE_FAULTS = ("reset", "reset-after", "stall", "truncate")
#: A ``stall`` may not outlast the request deadline (``taskcancel serve``'s 30 s).
DEFAULT_MAX_STALL_SECONDS = 30.0
#: Bounds on what a rule set may hold: rules, call numbers in one ``Calls``, characters in
#: a ``Name`` or a ``Match`` value (every call is matched against the rules).
MAX_RULES = 1000
MAX_CALLS = 1000
MAX_TEXT = 256
_MAX_LATENCY_MS = 60_000.0

_RULE_KEYS = frozenset({"Name", "Match", "When", "Error", "Fault", "LatencyMs", "StallSeconds"})
_MATCH_KEYS = frozenset({"Action", "RegionId", "TaskId", "AccessKeyId"})


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _calls(value: Sequence[int] | None) -> tuple[int, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen(kw_only=True)
class FaultRule:
    """One fault rule. Match fields left ``None`` match anything; exactly one of
    ``first``/``every``/``calls``/``after``/``probability``; an outcome: ``error`` (a
    code) or ``fault`` (a wire fault), and/or ``latency_ms``.

    ``FaultRule(name="throttle-2", action="CancelTask", first=2, error="Throttling.User")``
    """

    name: str
    action: str | None = None
    region_id: str | None = None
    task_id: str | None = None
    access_key_id: str | None = None
    first: int | None = None
    every: int | None = None
    calls: tuple[int, ...] | None = attrs.field(default=None, converter=_calls)
    after: datetime | None = None
    probability: float | None = None
    error: str | None = None
    fault: str | None = None
    latency_ms: float | None = None
    stall_seconds: float | None = None
    max_stall_seconds: float = attrs.field(default=DEFAULT_MAX_STALL_SECONDS, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        problem = self._problem()
        if problem is not None:
            field, reason = problem
            raise ValueError(f"{field}: {reason}")

    @property
    def when(self) -> str:
        """The kind of condition: ``"First"``, ``"Every"``, ``"Calls"``, ``"After"`` or
        ``"Probability"``."""
        return next(kind for kind, value in zip(WHEN_KINDS, self._whens(), strict=True) if value)

    def _whens(self) -> tuple[bool, ...]:
        values = (self.first, self.every, self.calls, self.after, self.probability)
        return tuple(value is not None for value in values)

    def _problem(self) -> tuple[str, str] | None:
        if not isinstance(self.name, str) or not self.name:
            return "Name", f"required non-empty string, got {shown(self.name)}"
        if len(self.name) > MAX_TEXT:
            return "Name", f"at most {MAX_TEXT} characters, got {len(self.name)}"
        for key, value in zip(
            ("Action", "RegionId", "TaskId", "AccessKeyId"),
            (self.action, self.region_id, self.task_id, self.access_key_id),
            strict=True,
        ):
            if value is not None and (not isinstance(value, str) or not value):
                return f"Match.{key}", f"must be a non-empty string, got {shown(value)}"
            if value is not None and len(value) > MAX_TEXT:
                return f"Match.{key}", f"at most {MAX_TEXT} characters, got {len(value)}"
        given = [kind for kind, set_ in zip(WHEN_KINDS, self._whens(), strict=True) if set_]
        if not given:
            return "When", f"give exactly one of {', '.join(WHEN_KINDS)}"
        if len(given) > 1:
            return f"When.{given[1]}", (f"give exactly one condition, got {' and '.join(given)}")
        if self.first is not None and not _positive(self.first):
            return "When.First", f"must be a positive integer, got {shown(self.first)}"
        if self.every is not None and not _positive(self.every):
            return "When.Every", f"must be a positive integer, got {shown(self.every)}"
        if self.calls is not None and (not self.calls or not all(map(_positive, self.calls))):
            return "When.Calls", f"must be a list of positive integers, got {shown(self.calls)}"
        if self.calls is not None and len(self.calls) > MAX_CALLS:
            return "When.Calls", f"at most {MAX_CALLS} call numbers, got {len(self.calls)}"
        if self.calls is not None and len(set(self.calls)) != len(self.calls):
            return "When.Calls", f"each call number once, got {shown(self.calls)}"
        if self.after is not None and (
            not isinstance(self.after, datetime) or self.after.utcoffset() is None
        ):
            return "When.After", f"must be a UTC time, got {shown(self.after)}"
        p = self.probability
        if p is not None and (not _number(p) or not 0 <= p <= 1):
            return "When.Probability", f"must be a number in [0, 1], got {shown(p)}"
        if self.error is None and self.fault is None and self.latency_ms is None:
            return "Error", "a rule needs an outcome: Error, Fault or LatencyMs"
        if self.error is not None and self.fault is not None:
            return "Fault", "give Error or Fault, not both"
        if self.error is not None and (not isinstance(self.error, str) or not self.error):
            return "Error", f"must be an error code, got {shown(self.error)}"
        if self.fault is not None and self.fault not in WIRE_FAULTS:
            return "Fault", f"must be one of {', '.join(WIRE_FAULTS)}, got {shown(self.fault)}"
        lat = self.latency_ms
        if lat is not None and (not _number(lat) or not 0 < lat <= _MAX_LATENCY_MS):
            return "LatencyMs", f"must be a number in (0, {_MAX_LATENCY_MS:g}], got {shown(lat)}"
        stall = self.stall_seconds
        if self.fault == "stall" and stall is None:
            return "StallSeconds", "required with Fault stall"
        if stall is not None:
            if self.fault != "stall":
                return "StallSeconds", "only with Fault stall"
            limit = self.max_stall_seconds
            if not _number(stall) or not 0 < stall <= limit:
                return "StallSeconds", (
                    f"must be a number of seconds in (0, {limit:g}] (the request deadline), "
                    f"got {shown(stall)}"
                )
        return None

    def matches(self, action: str, region_id: str, task_id: str, access_key_id: str) -> bool:
        """Whether a call with these values is one this rule counts."""
        return (
            (self.action is None or self.action == action)
            and (self.region_id is None or self.region_id == region_id)
            and (self.task_id is None or self.task_id == task_id)
            and (self.access_key_id is None or self.access_key_id == access_key_id)
        )


def _rule(
    value: object,
    field: str,
    source: str,
    error_codes: Collection[str] | None,
    max_stall_seconds: float,
) -> FaultRule:
    if not isinstance(value, Mapping):
        raise WorldFileError(source, field, f"must be an object, got {type(value).__name__}")
    for keys, where, data in (
        (_RULE_KEYS, field, value),
        (_MATCH_KEYS, f"{field}.Match", value.get("Match", {})),
        (frozenset(WHEN_KINDS), f"{field}.When", value.get("When", {})),
    ):
        if not isinstance(data, Mapping):
            raise WorldFileError(source, where, f"must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - keys)
        if unknown:
            raise WorldFileError(
                source,
                f"{where}.{printable(unknown[0])}",
                f"unknown field; known: {', '.join(sorted(keys))}",
            )
    match: Mapping[str, Any] = value.get("Match", {})
    when: Mapping[str, Any] = value.get("When", {})
    after = when.get("After")
    if after is not None:
        try:
            if not isinstance(after, str) or not after.endswith("Z"):
                raise ValueError
            after = parse_time(after)
        except ValueError:
            raise WorldFileError(
                source,
                f"{field}.When.After",
                f"must be a UTC time like 2026-01-01T00:00:00Z, got {shown(after)}",
            ) from None
    calls = when.get("Calls")
    if calls is not None and not isinstance(calls, list):
        raise WorldFileError(
            source,
            f"{field}.When.Calls",
            f"must be a list of positive integers, got {shown(calls)}",
        )
    try:
        rule = FaultRule(
            name=value.get("Name"),  # type: ignore[arg-type]  # checked by FaultRule
            action=match.get("Action"),
            region_id=match.get("RegionId"),
            task_id=match.get("TaskId"),
            access_key_id=match.get("AccessKeyId"),
            first=when.get("First"),
            every=when.get("Every"),
            calls=calls,
            after=after,
            probability=when.get("Probability"),
            error=value.get("Error"),
            fault=value.get("Fault"),
            latency_ms=value.get("LatencyMs"),
            stall_seconds=value.get("StallSeconds"),
            max_stall_seconds=max_stall_seconds,
        )
    except ValueError as exc:
        name, _, reason = str(exc).partition(": ")
        raise WorldFileError(source, f"{field}.{name}", reason) from None
    if error_codes is not None and rule.error is not None and rule.error not in error_codes:
        raise WorldFileError(
            source,
            f"{field}.Error",
            f"unknown error code {shown(rule.error)}; valid: {', '.join(sorted(error_codes))}",
        )
    return rule


def parse_rules(
    value: object,
    source: str,
    field: str,
    *,
    error_codes: Collection[str] | None = None,
    max_stall_seconds: float = DEFAULT_MAX_STALL_SECONDS,
) -> tuple[FaultRule, ...]:
    """A ``Rules`` list; :class:`WorldFileError` names ``FIELD[i].KEY`` and the reason.

    ``error_codes``: the codes an ``Error`` may name (``None``: not checked here).
    """
    if not isinstance(value, list):
        raise WorldFileError(source, field, f"must be a list, got {type(value).__name__}")
    if len(value) > MAX_RULES:
        raise WorldFileError(source, field, f"at most {MAX_RULES} rules, got {len(value)}")
    rules: list[FaultRule] = []
    names: set[str] = set()
    for i, entry in enumerate(value):
        rule = _rule(entry, f"{field}[{i}]", source, error_codes, max_stall_seconds)
        if rule.name in names:
            raise WorldFileError(
                source, f"{field}[{i}].Name", f"duplicate {shown(rule.name)}: names must differ"
            )
        names.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def check_rule_codes(
    rules: Sequence[FaultRule], error_codes: Collection[str], source: str, field: str
) -> None:
    """Refuse, as :func:`parse_rules` does, a rule whose ``Error`` is not in ``error_codes``."""
    for i, rule in enumerate(rules):
        if rule.error is not None and rule.error not in error_codes:
            raise WorldFileError(
                source,
                f"{field}[{i}].Error",
                f"unknown error code {shown(rule.error)}; valid: {', '.join(sorted(error_codes))}",
            )


def rule_to_json(rule: FaultRule) -> dict[str, Any]:
    """A rule as :func:`parse_rules` reads it back (absent fields left out)."""
    match = {
        key: value
        for key, value in (
            ("Action", rule.action),
            ("RegionId", rule.region_id),
            ("TaskId", rule.task_id),
            ("AccessKeyId", rule.access_key_id),
        )
        if value is not None
    }
    when: Any
    if rule.after is not None:
        when = format_timestamp(rule.after)
    elif rule.calls is not None:
        when = list(rule.calls)
    else:
        when = rule.first or rule.every or rule.probability
    entry: dict[str, Any] = {"Name": rule.name}
    if match:
        entry["Match"] = match
    entry["When"] = {rule.when: when}
    for key, value in (
        ("Error", rule.error),
        ("Fault", rule.fault),
        ("LatencyMs", rule.latency_ms),
        ("StallSeconds", rule.stall_seconds),
    ):
        if value is not None:
            entry[key] = value
    return entry
