"""``WorldGate``: requests share it, a reset or world load holds it alone.

First the gate on its own, then the proof that matters: an ECS request caught inside the
store while a reset comes in is answered entirely from the old world, and the reset
waits for it (without the gate the request would authenticate in the old world and act
in the new one). Negative checks wait a bounded time for something that must not happen.
"""

from __future__ import annotations

import threading
from typing import Any

from taskcancel.server._gate import WorldGate

NOT_YET = 0.2  # seconds to wait for something that must not happen


def run(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_requests_share_the_gate() -> None:
    gate = WorldGate()
    both_inside = threading.Barrier(2, timeout=10)

    def request() -> None:
        with gate:
            both_inside.wait()  # breaks (and fails the join below) unless both are in at once

    threads = [run(request), run(request)]
    for thread in threads:
        thread.join(10)
    assert not both_inside.broken


def test_a_change_waits_for_requests_under_way_and_holds_back_new_ones() -> None:
    gate = WorldGate()
    inside, release = threading.Event(), threading.Event()
    changing, later_request_in = threading.Event(), threading.Event()
    order: list[str] = []

    def first_request() -> None:
        with gate:
            inside.set()
            release.wait(10)
            order.append("first request")

    def change() -> None:
        with gate.exclusive():
            changing.set()
            order.append("change")

    def later_request() -> None:
        with gate:
            later_request_in.set()
            order.append("later request")

    threads = [run(first_request)]
    assert inside.wait(10)
    threads.append(run(change))
    assert not changing.wait(NOT_YET)  # the request under way is not cut off
    threads.append(run(later_request))
    assert not later_request_in.wait(NOT_YET)  # a waiting change goes first
    release.set()
    for thread in threads:
        thread.join(10)
    assert order == ["first request", "change", "later request"]


def test_changes_exclude_each_other() -> None:
    gate = WorldGate()
    inside, release, second_in = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with gate.exclusive():
            inside.set()
            release.wait(10)

    def second() -> None:
        with gate.exclusive():
            second_in.set()

    threads = [run(first)]
    assert inside.wait(10)
    threads.append(run(second))
    assert not second_in.wait(NOT_YET)
    release.set()
    for thread in threads:
        thread.join(10)
    assert second_in.is_set()
