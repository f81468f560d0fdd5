"""``WorldGate``: requests share it, a reset or world load holds it alone.

First the gate on its own, then the proof that matters: an ECS request caught inside the
store while a reset comes in is answered entirely from the old world, and the reset
waits for it (without the gate the request would authenticate in the old world and act
in the new one). Negative checks wait a bounded time for something that must not happen.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskcancel import CancelRequest, MemoryStore, Task, TaskNotFound
from taskcancel._core._rules import Decision
from taskcancel.server._gate import WorldGate
from taskcancel.testing import EmulatorServer

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


class PausingStore(MemoryStore):
    """A store whose cancels stop inside the store until told to go on."""

    def __init__(self) -> None:
        super().__init__()
        self.inside, self.go = threading.Event(), threading.Event()

    def cancel(self, request: CancelRequest, **options: Any) -> Decision:
        self.inside.set()
        assert self.go.wait(10)
        return super().cancel(request, **options)


def test_a_reset_waits_for_a_request_under_way_which_sees_only_the_old_world() -> None:
    store = PausingStore()
    with EmulatorServer(store=store) as server:
        # The old world: an account and a task that the start world does not have.
        server.add_account("guest", "guestsecret")
        server.add_task(
            Task(
                task_id="t-guest",
                region_id="cn-hangzhou",
                action="ImportImage",
                status="Processing",
                owner="guest",
            )
        )
        answers: list[str] = []
        reset_done = threading.Event()

        def guest_cancels() -> None:
            from taskcancel import Client, HttpTransport

            transport = HttpTransport(
                server.endpoint, access_key_id="guest", access_key_secret="guestsecret"
            )
            with Client(transport) as client:
                client.cancel_task("cn-hangzhou", "t-guest")
                answers.append("OK")

        def reset() -> None:
            server.reset()
            reset_done.set()

        request = run(guest_cancels)
        assert store.inside.wait(10)  # authenticated as the guest, now inside the store
        resetting = run(reset)
        assert not reset_done.wait(NOT_YET)  # the reset waits for the request
        store.go.set()
        request.join(10)
        resetting.join(10)

        assert answers == ["OK"]  # the old world's answer, not "no such task"
        assert reset_done.is_set()
        assert server.store.find_task("cn-hangzhou", "t-guest") is None
        store.inside.clear()
        with server.client() as client, pytest.raises(TaskNotFound):
            client.cancel_task("cn-hangzhou", "t-guest")
