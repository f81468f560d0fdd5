"""Reset is one step: a burst of signed cancels from several threads across a
``POST /_taskcancel/reset`` gets, for every request, an answer of the old world or of the
new one -- never a 5xx, never a mix -- and a reset forgets the nonces (isolation between
tests: the same signed request is accepted again). The app as ``taskcancel serve`` wires
it, in-process, both stores.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from support.control import BURST, BURST_SCHEDULED, HZ, KEY, Served, code_of, serving


@pytest.fixture(scope="module", params=["memory", "sqlite"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp(f"reset-{request.param}")
    flags = ["--store", str(directory / "store.db")] if request.param == "sqlite" else []
    with serving(directory, *flags) as served:
        yield served


@pytest.fixture
def emu(server: Served) -> Served:
    server.ok("POST", "reset")
    return server


GUEST = ("guest", "guestsecret")  # an account of the old world only
GUEST_TASK = "t-guest"
ALREADY_DELETED = BURST[: len(BURST) // 2]  # Deleted in the old world, Processing in the new


def old_world(emu: Served) -> None:
    """A world unlike the start world in its tasks, accounts and clock.

    Half the burst tasks are already cancelled, the clock is 601 s on (so the scheduled
    task has Finished), and a guest account with a task of its own exists.
    """
    state = emu.state()
    guest = {"AccessKeyId": GUEST[0], "AccessKeySecret": GUEST[1]}
    task = {
        "TaskId": GUEST_TASK,
        "RegionId": HZ,
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        "AccessKeyId": GUEST[0],
    }
    emu.ok(
        "PUT",
        "world",
        {
            **state,
            "Accounts": [*state["Accounts"], guest],
            "Tasks": [*state["Tasks"], task],
            "Now": "2026-01-01T00:10:01Z",
        },
    )
    for task_id in ALREADY_DELETED:
        assert emu.cancel(HZ, task_id) == "OK"
    assert emu.status(HZ, BURST_SCHEDULED) == "Finished"


#: What each request may answer in the old world and in the new (start) world.
OLD_OR_NEW: dict[str, set[str]] = {
    **{task_id: {"IncorrectTaskStatus", "OK"} for task_id in BURST},
    BURST_SCHEDULED: {"IncorrectTaskStatus", "OK"},
    GUEST_TASK: {"OK", "IncorrectTaskStatus", "InvalidAccessKeyId.NotFound"},
}
#: How many cancels of a task may succeed: once per world it is Processing in.
MOST_SUCCESSES = {
    **{task_id: 1 if task_id in ALREADY_DELETED else 2 for task_id in BURST},
    BURST_SCHEDULED: 1,  # Finished in the old world (its clock), Processing in the new
    GUEST_TASK: 1,  # the guest and its task exist in the old world only
}


def test_reset_during_a_burst_of_signed_cancels(emu: Served) -> None:
    old_world(emu)
    targets = [*BURST, BURST_SCHEDULED, GUEST_TASK]
    threads, rounds = 6, 3
    answers: list[tuple[str, str]] = []
    sent_after_reset: list[tuple[str, str]] = []  # requests sent once the reset had answered
    lock = threading.Lock()
    halfway, reset_done = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            caller = emu.fork()
            order = targets[n:] + targets[:n]
            for round_ in range(rounds):
                if round_ == rounds - 1:
                    # The last round waits for the reset, so the reset always falls inside
                    # the burst however fast the first rounds ran.
                    assert reset_done.wait(60), "the reset never answered"
                for task_id in order:
                    key = GUEST if task_id == GUEST_TASK else KEY
                    after = reset_done.is_set()
                    response = caller.ecs(
                        "CancelTask", {"RegionId": HZ, "TaskId": task_id}, key=key
                    )
                    with lock:
                        answers.append((task_id, code_of(response)))
                        if after:
                            sent_after_reset.append(answers[-1])
                        if len(answers) >= threads * len(targets) // 2:
                            halfway.set()
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)
            halfway.set()

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    assert halfway.wait(60)
    with lock:
        before_reset = len(answers)
    assert emu.ok("POST", "reset") == {"Status": "reset"}
    reset_done.set()
    for thread in pool:
        thread.join(60)
    assert not failures, failures

    total = threads * rounds * len(targets)
    assert len(answers) == total and 0 < before_reset < total
    for task_id, code in answers:
        assert code in OLD_OR_NEW[task_id], (task_id, code)
    # Sent after the reset answered: the new world only (the guest is gone).
    assert sent_after_reset
    for task_id, code in sent_after_reset:
        if task_id == GUEST_TASK:
            assert code == "InvalidAccessKeyId.NotFound"
    successes = Counter(task_id for task_id, code in answers if code == "OK")
    for task_id in targets:
        assert successes[task_id] <= MOST_SUCCESSES[task_id], (task_id, successes[task_id])
    # After the burst: the start world's accounts and clock, each target cancelled at most
    # once since the reset.
    state = emu.state()
    assert state["Now"] == "2026-01-01T00:00:00Z"
    assert [account["AccessKeyId"] for account in state["Accounts"]] == ["testid", "other"]
    assert GUEST_TASK not in {task["TaskId"] for task in state["Tasks"]}


def _replay(emu: Served, out: Any) -> str:
    return code_of(emu.send(out))


@pytest.mark.parametrize("scheme", ["acs3", "v1"])
def test_reset_forgets_nonces_so_a_request_is_accepted_again(emu: Served, scheme: str) -> None:
    signed = emu.signed("CancelTask", {"RegionId": HZ, "TaskId": "t-run"}, scheme=scheme)
    assert _replay(emu, signed) == "OK"
    assert _replay(emu, signed) == "SignatureNonceUsed"

    emu.ok("POST", "reset")

    # The same bytes again: a fresh world has seen no nonce, and t-run is Processing again.
    assert _replay(emu, signed) == "OK"
    assert _replay(emu, signed) == "SignatureNonceUsed"
    assert emu.status(HZ, "t-run") == "Deleted"


def test_other_changes_keep_the_nonces(emu: Served) -> None:
    signed = emu.signed("DescribeTaskAttribute", {"RegionId": HZ, "TaskId": "t-run"})
    assert _replay(emu, signed) == "OK"
    emu.ok("PUT", "world", emu.state())
    emu.ok("PUT", "faults", {})
    emu.ok("POST", "clock", {"AdvanceSeconds": 1})
    emu.ok("PATCH", "tasks/cn-hangzhou/t-run", {"TaskProcess": "1%"})
    assert _replay(emu, signed) == "SignatureNonceUsed"
