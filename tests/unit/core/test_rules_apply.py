"""The second half of a cancel, once in the core: ``apply_cancel`` and ``supports_cancel``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
from hypothesis import given
from hypothesis import strategies as st

from taskcancel import (
    DEFAULT_POLICY,
    Accepted,
    CancelRequest,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    Schedule,
    Task,
    TaskAction,
    TaskStatus,
    apply_cancel,
    decide,
    supports_cancel,
)
from taskcancel.testing import FakeClock, cancel_requests, tasks, worlds

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def running(**fields: object) -> Task:
    base: dict[str, object] = {
        "task_id": "t-1",
        "region_id": "cn-hangzhou",
        "action": TaskAction.IMPORT_IMAGE,
        "status": TaskStatus.PROCESSING,
        "owner": "acct",
        "creation_time": T0,
        "resource_id": "m-1",
        "progress": "40%",
    }
    base.update(fields)
    return Task(**base)  # type: ignore[arg-type]


def test_a_rejection_is_passed_through_unchanged() -> None:
    for reason in Reason:
        decision = Rejected(reason)
        assert apply_cancel(decision, T0) is decision


def test_a_task_configured_to_fail_is_rejected_with_cancel_failed() -> None:
    outcome = apply_cancel(Accepted(running(cancel_fails=True)), T0)
    assert outcome == Rejected(Reason.CANCEL_FAILED)


def test_an_accepted_task_becomes_deleted_at_now_and_keeps_everything_else() -> None:
    scheduled = running(schedule=Schedule(queued_seconds=0, processing_seconds=600))
    now = T0 + timedelta(minutes=3)
    outcome = apply_cancel(Accepted(scheduled), now)
    assert isinstance(outcome, Accepted)
    assert outcome.task == attrs.evolve(
        scheduled, status=TaskStatus.DELETED, finished_time=now, schedule=None
    )


def test_supports_cancel_follows_the_policy() -> None:
    assert supports_cancel(running())
    assert not supports_cancel(running(status=TaskStatus.WAITING))
    assert not supports_cancel(running(action=TaskAction.REDEPLOY_INSTANCE))
    wide = Policy(cancellable_statuses={TaskStatus.WAITING, TaskStatus.PROCESSING})
    assert supports_cancel(running(status=TaskStatus.WAITING), wide)


@given(tasks(), st.sampled_from([DEFAULT_POLICY, Policy(cancellable_statuses={"Waiting"})]))
def test_supports_cancel_is_what_decide_accepts(task: Task, policy: Policy) -> None:
    world = MemoryStore([task])
    decision = decide(
        CancelRequest(task.region_id, task.task_id), world, account=task.owner, policy=policy
    )
    assert isinstance(decision, Accepted) is supports_cancel(task, policy)


@given(worlds().flatmap(lambda w: st.tuples(st.just(w), cancel_requests(world=w))))
def test_a_memory_store_cancels_exactly_as_decide_then_apply_cancel(
    world_and_request: tuple[list[Task], CancelRequest],
) -> None:
    world, request = world_and_request
    now = T0 + timedelta(hours=1)
    store = MemoryStore(world, clock=FakeClock(now))
    for account in {t.owner for t in world} | {None}:
        expected = apply_cancel(decide(request, store, account=account, now=now), now)
        assert store.cancel(request, account=account) == expected
