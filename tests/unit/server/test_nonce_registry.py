"""taskcancel.server's NonceRegistry: per-account nonces, kept for the replay window, bounded.

(The registry is the server's: it left the wire layer.)
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from taskcancel import wire
from taskcancel.server._nonces import FULL, NEW, REPLAY, NonceRegistry

NOW = datetime(2026, 11, 28, 15, 15, 45, tzinfo=UTC)


def test_nonce_registry_replay_and_independence() -> None:
    registry = NonceRegistry(window=timedelta(minutes=15))
    assert registry.check("ak1", "n", NOW) == NEW
    assert registry.check("ak1", "n", NOW + timedelta(minutes=1)) == REPLAY
    assert registry.check("ak2", "n", NOW) == NEW
    assert registry.check("ak1", "m", NOW) == NEW
    assert len(registry) == 3


def test_nonce_registry_expiry() -> None:
    registry = NonceRegistry(window=timedelta(minutes=15))
    assert registry.check("ak", "n", NOW) == NEW
    assert registry.check("ak", "n", NOW + timedelta(minutes=14, seconds=59)) == REPLAY
    assert registry.check("ak", "n", NOW + timedelta(minutes=15)) == REPLAY  # the last instant
    later = NOW + timedelta(minutes=15, microseconds=1)
    assert registry.check("ak", "n", later) == NEW  # forgotten, re-recorded
    assert registry.check("ak", "n", later + timedelta(minutes=1)) == REPLAY
    assert registry.check("ak", "other", NOW + timedelta(hours=2)) == NEW
    assert len(registry) == 1  # expired entries evicted


def test_nonce_registry_default_window_covers_future_timestamps() -> None:
    registry = NonceRegistry()
    assert registry.check("ak", "n", NOW) == NEW
    assert registry.check("ak", "n", NOW + timedelta(minutes=29)) == REPLAY


def test_nonce_registry_remembers_as_long_as_the_timestamp_window_accepts() -> None:
    """A request stamped a whole window ahead is still fresh two windows after first use."""
    window = timedelta(minutes=15)
    registry = NonceRegistry(window=2 * window)
    stamp = NOW + window
    assert registry.check("ak", "n", NOW) == NEW
    replay_at = NOW + 2 * window
    call = wire.Call(
        method="GET",
        action="CancelTask",
        version=wire.ECS_VERSION,
        params={},
        access_key_id="ak",
        response_format="JSON",
        nonce="n",
        timestamp=wire.format_timestamp(stamp),
        host="",
        scheme=wire.Scheme.V1,
        signature="",
        string_to_sign="",
    )
    assert wire.check_timestamp(call, now=replay_at, window=window) is None  # still fresh
    assert registry.check("ak", "n", replay_at) == REPLAY  # so the nonce must still be known


def test_one_account_cannot_push_out_another_accounts_nonces() -> None:
    registry = NonceRegistry(max_entries=3)
    assert registry.check("victim", "v", NOW) == NEW
    for i in range(10):
        assert registry.check("attacker", str(i), NOW) in (NEW, FULL)
    assert registry.check("victim", "v", NOW) == REPLAY


def test_nonce_registry_bounded_and_never_forgets_inside_the_window() -> None:
    registry = NonceRegistry(max_entries=3)
    results = [registry.check("ak", str(i), NOW + timedelta(seconds=i)) for i in range(10)]
    assert results == [NEW] * 3 + [FULL] * 7
    assert len(registry) == 3
    assert registry.check("ak", "0", NOW + timedelta(seconds=11)) == REPLAY  # not evicted
    with pytest.raises(ValueError):
        NonceRegistry(max_entries=0)


def test_a_full_registry_refuses_until_its_oldest_nonce_leaves_the_window() -> None:
    window = timedelta(minutes=30)
    registry = NonceRegistry(window=window, max_entries=2)
    assert registry.check("ak", "first", NOW) == NEW
    assert registry.check("ak", "second", NOW + timedelta(minutes=10)) == NEW
    later = NOW + timedelta(minutes=20)
    assert registry.check("ak", "third", later) == FULL
    assert registry.retry_after_ms("ak", later) == 10 * 60 * 1000 + 1  # when "first" goes
    assert registry.check("ak", "first", later) == REPLAY  # full, and still never forgotten
    assert registry.check("other", "third", later) == NEW  # another account has its own share
    assert registry.check("ak", "third", NOW + window) == FULL  # "first": the last instant
    gone = NOW + window + timedelta(microseconds=1)
    assert registry.check("ak", "third", gone) == NEW  # refused before, so never recorded
    assert registry.check("ak", "fourth", gone) == FULL
    assert registry.check("ak", "second", gone) == REPLAY
    assert registry.retry_after_ms("nobody", gone) == 0


@pytest.mark.parametrize(
    "nonce",
    [
        "a" * wire.MAX_NONCE_LENGTH,
        "\U0001f600" * wire.MAX_NONCE_LENGTH,
        "\ud800",  # a lone surrogate: remembered like any other string
        "\ud83d\ude00",  # a surrogate pair as two code points: not the same nonce as U+1F600
    ],
)
def test_nonces_of_any_shape_are_remembered_exactly(nonce: str) -> None:
    registry = NonceRegistry()
    assert registry.check("ak", nonce, NOW) == NEW
    assert registry.check("ak", nonce, NOW) == REPLAY
    for other in (nonce[:-1] + "b", nonce + "a", nonce[:-1], "?", "\U0001f600"):
        if other != nonce:
            assert registry.check("ak", other, NOW) == NEW, repr(other)


def test_racing_checks_of_one_nonce_admit_it_once() -> None:
    registry = NonceRegistry()
    barrier = threading.Barrier(8)
    verdicts: list[str] = []

    def race() -> None:
        barrier.wait()
        verdicts.append(registry.check("ak", "n", NOW))

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == [NEW] + [REPLAY] * 7
