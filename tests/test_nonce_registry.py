"""taskcancel.server's NonceRegistry: per-account nonces, kept for the replay window, bounded.

(Moved here from tests/test_wire.py when the registry left the wire for the server.)
"""

from __future__ import annotations

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
