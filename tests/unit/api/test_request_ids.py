"""Request ids: unique, shaped like the real service's (upper-case version-4 UUIDs), cheap.

``RequestIds`` draws 80 random bits once and counts the last 48, so it makes no system
call per id; these tests hold it to the shape and to uniqueness, across threads too.
"""

from __future__ import annotations

import itertools
import re
import threading
import uuid

from taskcancel._ids import RequestIds, uuid_request_ids

_SHAPE = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}")


def _is_v4(text: str) -> bool:
    value = uuid.UUID(text)
    return value.version == 4 and value.variant == uuid.RFC_4122 and str(value).upper() == text


def test_every_id_is_an_upper_case_version_4_uuid() -> None:
    ids = RequestIds()
    for made in [ids() for _ in range(1000)] + [uuid_request_ids() for _ in range(1000)]:
        assert _SHAPE.fullmatch(made), made
        assert _is_v4(made), made


def test_ids_are_unique_within_and_across_generators() -> None:
    first, second = RequestIds(), RequestIds()
    made = [first() for _ in range(50_000)] + [second() for _ in range(50_000)]
    assert len(set(made)) == len(made)


def test_ids_are_unique_across_threads() -> None:
    ids = RequestIds()
    results: list[list[str]] = [[] for _ in range(4)]

    def draw(out: list[str]) -> None:
        out.extend(ids() for _ in range(20_000))

    threads = [threading.Thread(target=draw, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    made = [one for out in results for one in out]
    assert len(made) == 80_000
    assert len(set(made)) == len(made)


def test_the_counter_wraps_within_its_48_bits() -> None:
    ids = RequestIds()
    ids._count = iter([0xFFFFFFFFFFFF, 0x1000000000000 + 0xFFFFFFFFFFFF])  # type: ignore[assignment]
    first, wrapped = ids(), ids()
    assert first[-12:] == wrapped[-12:]  # the counter's 49th bit is dropped, nothing more
    assert _SHAPE.fullmatch(wrapped)


def test_consecutive_ids_do_not_reveal_how_many_came_between() -> None:
    """Ids counted up one by one let a tenant measure everyone's request rate."""
    ids = RequestIds()
    tails = [int(ids()[-12:], 16) for _ in range(1000)]
    steps = {(b - a) % (1 << 48) for a, b in itertools.pairwise(tails)}
    assert len(steps) > 100  # no constant step: not a visible counter
    assert len(set(tails)) == len(tails)
