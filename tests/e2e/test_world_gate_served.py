"""``WorldGate`` in a running server: a request caught inside the store while a reset
comes in is answered entirely from the old world, and the reset waits for it.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from taskcancel import CancelRequest, Decision, MemoryStore, Task, TaskNotFound
from taskcancel.testing import EmulatorServer

NOT_YET = 0.2  # seconds to wait for something that must not happen


def run(target: Any) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


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
