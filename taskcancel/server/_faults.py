"""Fault rules at run time (docs/faults.md): which rule decides a call, with counts per rule.

:class:`FaultRules` holds the :class:`~taskcancel.worldfile.Faults` in force, each rule's
``Matched`` and ``Fired`` counts, and the generator seeded by ``--seed`` that every
chance is drawn from (a rule's ``Probability`` and the global ``ThrottleRate``). No clock
is read here: the caller passes the emulator's time. Deterministic: ``First: N`` fires on
the first N calls the rule matched, ``Every: k`` on every k-th, ``Calls: [i, j]`` on the
i-th and j-th, ``After: T`` when the emulator's time is at or past T, and ``Probability:
p`` on one draw per matched call -- so the same calls in the same order get the same
outcomes, across restarts too. The first rule that matches and fires decides; the rules
after it are not looked at (their counts do not move).

:func:`error_codes` and :func:`rule_error` say which ``Error`` codes a rule may name and
how each is answered: exactly as the profile's catalogue or the gateway answers it
elsewhere (a throttling code carries ``x-acs-retry-after``).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .. import wire
from ..catalogue import ErrorSpec, Profile
from ..worldfile import NO_FAULTS, FaultRule, Faults, faults_to_json

__all__ = ["FaultRules", "error_codes", "rule_error"]

#: Gateway rows whose message needs a value a rule cannot give (which signature string,
#: which limit) cannot be a rule's ``Error``; ``detail`` is optional, ``retry_after_ms``
#: comes from ``Faults.RetryAfterMs``.
_FILLABLE = frozenset({"detail", "retry_after_ms"})


def _gateway_codes() -> frozenset[str]:
    codes = set()
    for code in wire.GATEWAY_ERRORS:
        if "{" in code:
            continue
        try:
            wire.gateway_error(code, retry_after_ms=0)
        except ValueError:
            try:
                wire.gateway_error(code)
            except ValueError:
                continue
        codes.add(code)
    return frozenset(codes)


_GATEWAY_CODES = _gateway_codes()


def error_codes(profile: Profile) -> frozenset[str]:
    """The codes a rule's ``Error`` may name under ``profile``: its catalogue's codes and
    the gateway's (those that need no value filled in)."""
    return frozenset(spec.code for spec in profile.errors.values()) | _GATEWAY_CODES


def rule_error(code: str, profile: Profile, retry_after_ms: int) -> ErrorSpec:
    """The error answered for ``code``: the profile's own row, else the gateway's (a
    throttling code with ``retry_after_ms`` as its hint). ``ValueError`` if neither has it."""
    for spec in profile.errors.values():
        if spec.code == code:
            return spec
    if code not in _GATEWAY_CODES:
        valid = ", ".join(sorted(error_codes(profile)))
        raise ValueError(f"unknown error code {code!r}; valid: {valid}")
    if code.startswith("Throttling."):
        return wire.gateway_error(code, retry_after_ms=retry_after_ms)
    return wire.gateway_error(code)


class FaultRules:
    """The faults in force, their rules' counts, and the seeded generator. Thread-safe.

    ``seed`` (``--seed``): ``None`` draws from system entropy (not repeatable).
    """

    def __init__(self, faults: Faults = NO_FAULTS, *, seed: int | str | None = None) -> None:
        self._seed = seed
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        # One value, swapped in one assignment: a call sees one set of rules and counts.
        self._state = _State(faults)

    @property
    def faults(self) -> Faults:
        return self._state.faults

    @property
    def rules(self) -> tuple[FaultRule, ...]:
        return self._state.rules

    def set(self, faults: Faults) -> None:
        """Put ``faults`` in force, every rule's counts at zero (the generator goes on)."""
        self._state = _State(faults)

    def _in_force(self, faults: Faults) -> _State:
        """The counts of ``faults`` (the world's): new faults start at zero."""
        state = self._state
        if state.faults is not faults:
            with self._lock:
                if self._state.faults is not faults:
                    self._state = _State(faults)
                state = self._state
        return state

    def reset(self, faults: Faults) -> None:
        """Put ``faults`` in force with zero counts and the generator back at its seed."""
        with self._lock:
            self._state = _State(faults)
            self._random.seed(self._seed)

    def chance(self) -> float:
        """A draw in [0, 1) from the seeded generator (the global ``ThrottleRate``)."""
        with self._lock:
            return self._random.random()

    def decide(
        self,
        action: str,
        region_id: str,
        task_id: str,
        access_key_id: str,
        now: datetime | Callable[[], datetime],
        faults: Faults | None = None,
    ) -> FaultRule | None:
        """The rule that decides this call (counted as matched and fired), or ``None``.

        ``now``: the emulator's time, or what gives it (asked only by a rule with
        ``After``); ``faults``: the faults of the world the call sees (``None``: those in
        force); faults other than the last ones start with zero counts.
        """
        state = self._state
        if faults is not None and state.faults is not faults:
            state = self._in_force(faults)
        if not state.rules:
            return None
        candidates: tuple[_Candidate, ...]
        node = state.index
        if node is not None:  # the rules this call matches, by four lookups
            node = node.get(action, node[None])
            node = node.get(task_id, node[None])
            node = node.get(region_id, node[None])
            candidates = node.get(access_key_id, node[None])
        else:
            by_task, any_task = state.by_action.get(action, state.other_actions)
            candidates = by_task.get(task_id, any_task)
        for index, rule, region, key in candidates:  # in rule order
            if (region is not None and region != region_id) or (
                key is not None and key != access_key_id
            ):
                continue
            with self._lock:
                state.matched[index] += 1
                if self._fires(rule, state.matched[index], now):
                    state.fired[index] += 1
                    return rule
        return None

    def _fires(self, rule: FaultRule, n: int, now: datetime | Callable[[], datetime]) -> bool:
        if rule.first is not None:
            return n <= rule.first
        if rule.every is not None:
            return n % rule.every == 0
        if rule.calls is not None:
            return n in rule.calls
        if rule.after is not None:
            return (now if isinstance(now, datetime) else now()) >= rule.after
        if rule.probability is not None:
            return self._random.random() < rule.probability
        return False  # FaultRule refuses a rule without a condition

    def counts(self) -> list[tuple[int, int]]:
        """``(Matched, Fired)`` of each rule, in order."""
        state = self._state
        with self._lock:
            return list(zip(state.matched, state.fired, strict=True))

    def to_json(self, faults: Faults | None = None) -> dict[str, Any]:
        """``GET /_taskcancel/faults``: the faults in force (or ``faults``, the world's),
        each rule with its counts (``Rules`` always present)."""
        state = self._state if faults is None else self._in_force(faults)
        with self._lock:
            matched, fired = list(state.matched), list(state.fired)
        document = faults_to_json(state.faults)
        rules: list[dict[str, Any]] = document.setdefault("Rules", [])
        for entry, m, f in zip(rules, matched, fired, strict=True):
            entry["Matched"], entry["Fired"] = m, f
        return document


#: A rule a call may match: (index, rule, its RegionId, its AccessKeyId)
_Candidate = tuple[int, FaultRule, str | None, str | None]
#: (candidates by TaskId, candidates for any other TaskId)
_Candidates = tuple[dict[str, tuple[_Candidate, ...]], tuple[_Candidate, ...]]


class _State:
    """Faults in force and their rules' counts (the counts' lists change under the lock).

    ``by_action[action]`` (``other_actions`` for an action no rule names) are the rules a
    call may match by its action and TaskId, so a call no rule names costs two dict
    lookups, however many rules there are; RegionId and AccessKeyId are checked per rule.
    """

    __slots__ = ("by_action", "faults", "fired", "index", "matched", "other_actions", "rules")

    def __init__(self, faults: Faults) -> None:
        self.faults, self.rules = faults, faults.rules
        self.matched = [0] * len(faults.rules)
        self.fired = [0] * len(faults.rules)
        named = {rule.action for rule in self.rules if rule.action is not None}
        self.by_action = {action: self._candidates(action) for action in named}
        self.other_actions = self._candidates(None)
        # Action -> TaskId -> RegionId -> AccessKeyId -> the rules matching all four (the
        # key None: a value no rule names). Past _MAX_NODES (many rules naming many
        # values) by_action does instead.
        self.index: dict[str | None, Any] | None
        try:
            whole = tuple(
                (i, rule, rule.region_id, rule.access_key_id) for i, rule in enumerate(self.rules)
            )
            self.index = _nest(whole, 0, [_MAX_NODES])
        except _TooBig:
            self.index = None

    def _candidates(self, action: str | None) -> _Candidates:
        wanted = [
            (i, rule, rule.region_id, rule.access_key_id)
            for i, rule in enumerate(self.rules)
            if rule.action is None or rule.action == action
        ]
        tasks = {c[1].task_id for c in wanted if c[1].task_id is not None}
        by_task = {task: tuple(c for c in wanted if c[1].task_id in (None, task)) for task in tasks}
        return by_task, tuple(c for c in wanted if c[1].task_id is None)


_FIELDS = ("action", "task_id", "region_id", "access_key_id")
_MAX_NODES = 4096


class _TooBig(Exception):
    pass


def _nest(candidates: tuple[_Candidate, ...], level: int, budget: list[int]) -> Any:
    """The index's node at ``level`` over ``candidates`` (a leaf: those that match)."""
    if level == len(_FIELDS):
        return candidates
    field = _FIELDS[level]
    named = {getattr(c[1], field) for c in candidates} - {None}
    budget[0] -= len(named) + 1
    if budget[0] < 0:
        raise _TooBig
    node: dict[str | None, Any] = {
        value: _nest(
            tuple(c for c in candidates if getattr(c[1], field) in (None, value)), level + 1, budget
        )
        for value in named
    }
    node[None] = _nest(
        tuple(c for c in candidates if getattr(c[1], field) is None), level + 1, budget
    )
    return node
