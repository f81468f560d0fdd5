"""Which rule decides a call, and the counts: deterministic for every kind of ``When``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from taskcancel.catalogue import get_profile
from taskcancel.server._faults import FaultRules, error_codes, rule_error
from taskcancel.worldfile import FaultRule, Faults

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def fired(
    rules: FaultRules, calls: int, action: str = "CancelTask", now: datetime = NOW
) -> list[str]:
    out = []
    for _ in range(calls):
        rule = rules.decide(action, "cn-hangzhou", "t-1", "testid", now)
        out.append("-" if rule is None else rule.name)
    return out


def one(**when: object) -> FaultRules:
    return FaultRules(Faults(rules=(FaultRule(name="r", error="InternalError", **when),)), seed=1)  # type: ignore[arg-type]


def test_first_fires_on_the_first_n_matched_calls() -> None:
    assert fired(one(first=2), 4) == ["r", "r", "-", "-"]


def test_every_fires_on_every_kth_matched_call() -> None:
    assert fired(one(every=3), 7) == ["-", "-", "r", "-", "-", "r", "-"]


def test_calls_fire_on_the_listed_matched_calls() -> None:
    assert fired(one(calls=(1, 4)), 5) == ["r", "-", "-", "r", "-"]


def test_after_fires_from_that_emulator_time_on() -> None:
    rules = one(after=NOW)
    assert fired(rules, 1, now=NOW - timedelta(seconds=1)) == ["-"]
    assert fired(rules, 2, now=NOW) == ["r", "r"]


def test_only_calls_a_rule_matches_count_for_it() -> None:
    rules = FaultRules(
        Faults(rules=(FaultRule(name="c", action="CancelTask", calls=(2,), fault="reset"),))
    )
    assert fired(rules, 3, action="DescribeTasks") == ["-", "-", "-"]
    assert fired(rules, 2) == ["-", "c"]
    assert rules.counts() == [(2, 1)]


def test_match_fields_each_narrow_the_calls() -> None:
    rule = FaultRule(
        name="m",
        region_id="cn-hangzhou",
        task_id="t-2",
        access_key_id="k",
        every=1,
        error="InternalError",
    )
    rules = FaultRules(Faults(rules=(rule,)))
    assert rules.decide("CancelTask", "cn-hangzhou", "t-2", "k", NOW) == rule
    assert rules.decide("CancelTask", "cn-shanghai", "t-2", "k", NOW) is None
    assert rules.decide("CancelTask", "cn-hangzhou", "t-1", "k", NOW) is None
    assert rules.decide("CancelTask", "cn-hangzhou", "t-2", "other", NOW) is None


def test_the_first_rule_that_matches_and_fires_decides() -> None:
    rules = FaultRules(
        Faults(
            rules=(
                FaultRule(name="a", calls=(2,), error="InternalError"),
                FaultRule(name="b", first=1, error="ServiceUnavailable"),
                FaultRule(name="c", every=1, fault="reset"),
            )
        )
    )
    # call 1: a matches, does not fire; b fires. call 2: a fires (b, c not looked at).
    # call 3: a no, b no (its 2nd match), c fires.
    assert fired(rules, 3) == ["b", "a", "c"]
    assert rules.counts() == [(3, 1), (2, 1), (1, 1)]
    assert [(r["Name"], r["Matched"], r["Fired"]) for r in rules.to_json()["Rules"]] == [
        ("a", 3, 1),
        ("b", 2, 1),
        ("c", 1, 1),
    ]


def test_a_seeded_probability_gives_the_same_sequence_twice_and_after_reset() -> None:
    faults = Faults(rules=(FaultRule(name="p", probability=0.5, error="InternalError"),))
    first = fired(FaultRules(faults, seed=42), 40)
    assert first == fired(FaultRules(faults, seed=42), 40)
    assert "p" in first and "-" in first  # a real mix, not a constant
    assert first != fired(FaultRules(faults, seed=43), 40)
    rules = FaultRules(faults, seed=42)
    fired(rules, 7)
    rules.reset(faults)
    assert rules.counts() == [(0, 0)]
    assert fired(rules, 40) == first


def test_the_throttle_chance_comes_from_the_same_seeded_generator() -> None:
    a, b = FaultRules(seed="s"), FaultRules(seed="s")
    draws = [a.chance() for _ in range(5)]
    assert draws == [b.chance() for _ in range(5)]
    a.reset(Faults())
    assert [a.chance() for _ in range(5)] == draws


def test_set_zeroes_the_counts_and_no_rules_decide_nothing() -> None:
    rules = one(every=1)
    fired(rules, 3)
    rules.set(Faults())
    assert fired(rules, 2) == ["-", "-"]
    assert rules.counts() == []
    assert rules.to_json()["Rules"] == []


def test_error_codes_are_the_profiles_and_the_gateways() -> None:
    codes = error_codes(get_profile("2017"))
    assert {
        "IncorrectTaskStatus",
        "Throttling.User",
        "Throttling.Api",
        "InternalError",
        "ServiceUnavailable",
    } <= codes
    assert "InvalidTaskId.IncorrectTaskStatus" not in codes  # the current profile's
    assert not any("{" in code for code in codes)
    assert "SignatureDoesNotMatch" not in codes  # needs the server's string to sign


def test_a_rule_error_is_answered_as_elsewhere() -> None:
    profile = get_profile("current")
    throttled = rule_error("Throttling.User", profile, 1500)
    assert (throttled.http_status, throttled.headers) == (400, (("x-acs-retry-after", "1500"),))
    assert rule_error("InvalidTaskId.IncorrectTaskStatus", profile, 0).http_status == 403
    assert rule_error("ServiceUnavailable", profile, 0).http_status == 503
    with pytest.raises(ValueError, match="valid: "):
        rule_error("Nope", profile, 0)


def test_the_time_is_asked_for_only_by_a_rule_with_after() -> None:
    asked: list[int] = []

    def now() -> datetime:
        asked.append(1)
        return NOW

    rules = FaultRules(
        Faults(
            rules=(
                FaultRule(name="other-task", task_id="t-9", after=NOW, fault="reset"),
                FaultRule(name="count", calls=(2,), error="InternalError"),
            )
        )
    )
    assert rules.decide("CancelTask", "cn-hangzhou", "t-1", "testid", now) is None
    assert asked == []
    assert rules.decide("CancelTask", "cn-hangzhou", "t-9", "testid", now) is not None
    assert asked == [1]


def test_the_index_and_the_plain_scan_decide_alike() -> None:
    """Rules are found through an index (by Action, TaskId, RegionId, AccessKeyId); too
    many named values fall back to a scan. Both give the same decisions."""
    import random

    draw = random.Random(5)
    values = {
        "action": ["CancelTask", "DescribeTasks", None],
        "region_id": ["r1", "r2", None],
        "task_id": ["t1", "t2", "t3", None],
        "access_key_id": ["k1", "k2", None],
    }
    rules = tuple(
        FaultRule(
            name=f"r{n}",
            every=draw.randint(1, 3),
            error="InternalError",
            **{field: draw.choice(options) for field, options in values.items()},  # type: ignore[arg-type]
        )
        for n in range(25)
    )
    indexed, scanned = FaultRules(Faults(rules=rules)), FaultRules(Faults(rules=rules))
    assert indexed._state.index is not None
    scanned._state.index = None
    for _ in range(400):
        call = (
            draw.choice(["CancelTask", "DescribeTasks", "ImportImage"]),
            draw.choice(["r1", "r2", "r3"]),
            draw.choice(["t1", "t2", "t3", "t4", ""]),
            draw.choice(["k1", "k2", "k3"]),
        )
        assert indexed.decide(*call, NOW) == scanned.decide(*call, NOW)
    assert indexed.counts() == scanned.counts()
    assert sum(fired for _, fired in indexed.counts()) > 50


def test_rules_naming_very_many_values_are_scanned_and_still_decide() -> None:
    by_region = [
        FaultRule(name=f"r{n}", region_id=f"region-{n}", first=1, error="InternalError")
        for n in range(100)
    ]
    by_key = [
        FaultRule(name=f"k{n}", access_key_id=f"key-{n}", first=1, error="InternalError")
        for n in range(100)
    ]
    state = FaultRules(Faults(rules=(*by_region, *by_key)))
    assert state._state.index is None  # 100 x 100 combinations: past the index's size
    rule = state.decide("CancelTask", "region-7", "t-1", "key-8", NOW)
    assert rule is not None and rule.name == "r7"
    rule = state.decide("CancelTask", "region-7", "t-1", "key-8", NOW)
    assert rule is not None and rule.name == "k8"
    assert state.decide("CancelTask", "region-7", "t-1", "key-8", NOW) is None
