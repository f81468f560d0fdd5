"""Each hot-path shortcut of the core pinned to the straightforward definition it replaces.

``decide`` looks the task up before the region and builds ``Accepted`` without attrs'
frozen ``__init__``; ``cancelled`` copies a task slot by slot; ``apply_cancel`` builds its
``Accepted`` the same way. Here each is compared with the plain code, on any world.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taskcancel import (
    DEFAULT_POLICY,
    Accepted,
    CancelRequest,
    Decision,
    MemoryStore,
    Policy,
    Reason,
    Rejected,
    Task,
    TaskAction,
    TaskStatus,
    apply_cancel,
    decide,
    task_at,
)
from taskcancel._core._model import cancelled
from taskcancel.testing import DictWorld
from taskcancel.testing import strategies as tst

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
REGIONS = ("cn-hangzhou", "cn-shanghai", "xx-empty-1")


def straightforward_decide(
    request: CancelRequest,
    world: DictWorld | MemoryStore,
    *,
    account: str | None,
    policy: Policy,
    now: datetime | None,
) -> Decision:
    """decide() as the table reads: the region, then the task, then Accepted(task)."""
    region_id, task_id = request.region_id, request.task_id
    if not isinstance(region_id, str) or not region_id:
        return Rejected(Reason.MISSING_REGION_ID)
    if not isinstance(task_id, str) or not task_id:
        return Rejected(Reason.MISSING_TASK_ID)
    if not world.has_region(region_id):
        return Rejected(Reason.REGION_NOT_FOUND)
    task = world.find_task(region_id, task_id)
    if task is None or task.owner != account or task.region_id != region_id:
        return Rejected(Reason.TASK_NOT_FOUND)
    task = task_at(task, now)
    if task.action not in policy.cancellable_actions:
        return Rejected(Reason.ACTION_NOT_SUPPORTED)
    if task.status not in policy.cancellable_statuses:
        return Rejected(Reason.INCORRECT_TASK_STATUS)
    return Accepted(task)


_POLICIES = st.sampled_from(
    [
        DEFAULT_POLICY,
        Policy(cancellable_actions=TaskAction, cancellable_statuses=TaskStatus),
        Policy(cancellable_actions=[], cancellable_statuses=[]),
    ]
)


@settings(max_examples=300)
@given(
    st.lists(tst.tasks(regions=st.sampled_from(REGIONS[:2])), max_size=8),
    st.data(),
    _POLICIES,
    st.one_of(st.none(), st.sampled_from([T0, T0 + timedelta(minutes=5), T0 + timedelta(days=9)])),
)
def test_decide_task_first_equals_the_region_first_definition(
    tasks: list[Task], data: st.DataObject, policy: Policy, now: datetime | None
) -> None:
    unique = list({task.key: task for task in tasks}.values())
    regions = data.draw(st.sets(st.sampled_from(REGIONS)), label="regions")
    kept = [task for task in unique if task.region_id in regions]
    known = [t.task_id for t in kept] + ["t-nowhere"]
    account = data.draw(st.sampled_from([None, "testid", "other"]), label="account")
    request = CancelRequest(
        data.draw(st.sampled_from([None, "", *REGIONS, "xx-unknown-9"]), label="region"),
        data.draw(st.sampled_from([None, "", *known]), label="task"),
    )
    for world in (DictWorld(kept, regions=regions), MemoryStore(kept, regions=regions)):
        got = decide(request, world, account=account, policy=policy, now=now)
        want = straightforward_decide(request, world, account=account, policy=policy, now=now)
        assert type(got) is type(want)
        assert got == want


@settings(max_examples=200)
@given(tst.tasks(), st.sampled_from([None, T0, T0.replace(tzinfo=None), T0 + timedelta(hours=1)]))
def test_cancelled_equals_evolve(task: Task, now: datetime | None) -> None:
    finished = None if now is None else now.replace(tzinfo=UTC)
    want = attrs.evolve(task, status=TaskStatus.DELETED, finished_time=finished, schedule=None)
    got = cancelled(task, now)
    assert type(got) is Task
    assert got == want
    assert repr(got) == repr(want)
    assert hash(got) == hash(want)


@settings(max_examples=200)
@given(tst.tasks(), st.booleans(), st.sampled_from([None, T0]))
def test_apply_cancel_builds_the_same_accepted(
    task: Task, fails: bool, now: datetime | None
) -> None:
    task = attrs.evolve(task, cancel_fails=fails)
    got = apply_cancel(Accepted(task), now)
    if fails:
        assert got == Rejected(Reason.CANCEL_FAILED)
    else:
        assert type(got) is Accepted
        assert got == Accepted(cancelled(task, now))


def test_the_quick_accepted_is_a_real_frozen_accepted() -> None:
    task = Task(task_id="t-1", region_id="cn-hangzhou", action="ImportImage", status="Processing")
    got = decide(CancelRequest("cn-hangzhou", "t-1"), DictWorld([task], regions=["cn-hangzhou"]))
    assert type(got) is Accepted
    assert got == Accepted(task) and hash(got) == hash(Accepted(task))
    assert repr(got) == repr(Accepted(task))
    assert attrs.asdict(got, recurse=False) == {"task": task}
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        got.task = task  # type: ignore[misc]
