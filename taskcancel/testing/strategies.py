"""Hypothesis strategies for tasks, worlds of tasks and CancelTask requests.

Each function returns a :class:`hypothesis.strategies.SearchStrategy`; every knob is
keyword-only and takes a strategy (``None`` keeps the default), in the style of
``xarray.testing.strategies``::

    from hypothesis import given, strategies as st
    from taskcancel.testing import cancel_requests, tasks, worlds

    @given(tasks(statuses=st.just(TaskStatus.PROCESSING)))
    def test_running_tasks(task): ...

    @given(worlds().flatmap(lambda w: st.tuples(st.just(w), cancel_requests(world=w))))
    def test_any_request_against_any_world(world_and_request): ...

Together, :func:`worlds` and :func:`cancel_requests` reach every
:class:`~taskcancel.Reason` (``CANCEL_FAILED`` through tasks with ``cancel_fails``)
and acceptance: ids and regions are drawn from small pools, so requests hit tasks,
miss them, and hit a task id in the wrong region or of the wrong owner.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from .. import ECS_REGIONS, CancelRequest, Task, TaskAction, TaskStatus

__all__ = [
    "DEFAULT_OWNERS",
    "DEFAULT_REGIONS",
    "UNKNOWN_REGIONS",
    "accounts",
    "cancel_requests",
    "task_ids",
    "tasks",
    "worlds",
]

#: The small region pool :func:`worlds` draws from by default (all real ECS regions).
DEFAULT_REGIONS: tuple[str, ...] = ("cn-hangzhou", "cn-shanghai", "ap-southeast-1")

#: The owners :func:`worlds` mixes by default: the anonymous account and two others.
DEFAULT_OWNERS: tuple[str | None, ...] = (None, "testid", "tenant-b")

#: Region ids that are not ECS regions, including near misses.
UNKNOWN_REGIONS: tuple[str, ...] = ("cn-nowhere-1", "CN-HANGZHOU", "cn-hangzhou ", "hangzhou")

_ID_ALPHABET = string.ascii_lowercase + string.digits
_SORTED_REGIONS = tuple(sorted(ECS_REGIONS))
_EPOCH = datetime(2015, 1, 1, tzinfo=UTC)

# Every action and status, weighted toward what the default policy can cancel, so that
# acceptance (and CANCEL_FAILED) are common rather than one draw in a hundred.
_ACTIONS = st.one_of(
    st.sampled_from([TaskAction.IMPORT_IMAGE, TaskAction.EXPORT_IMAGE]), st.sampled_from(TaskAction)
)
_STATUSES = st.one_of(st.just(TaskStatus.PROCESSING), st.sampled_from(TaskStatus))


def _check(name: str, value: object) -> None:
    if value is not None and not isinstance(value, st.SearchStrategy):
        raise TypeError(
            f"{name} must be a hypothesis strategy (e.g. st.just({value!r})), "
            f"got {type(value).__name__}: {value!r}"
        )


def task_ids() -> st.SearchStrategy[str]:
    """Realistic task ids: ``t-`` and 20 lowercase letters and digits."""
    return st.text(_ID_ALPHABET, min_size=20, max_size=20).map(lambda tail: "t-" + tail)


_default_task_ids = task_ids  # the knobs below are called task_ids too


def accounts() -> st.SearchStrategy[str]:
    """Realistic AccessKeyIds: ``LTAI`` and 20 letters and digits."""
    alphabet = string.ascii_letters + string.digits
    return st.text(alphabet, min_size=20, max_size=20).map(lambda tail: "LTAI" + tail)


def _times() -> st.SearchStrategy[datetime]:
    # Whole minutes: the resolution the API renders times at, so they round-trip.
    return st.integers(0, 15 * 365 * 24 * 60).map(lambda m: _EPOCH + timedelta(minutes=m))


@st.composite
def _task(
    draw: st.DrawFn,
    ids: st.SearchStrategy[str],
    regions: st.SearchStrategy[str],
    owners: st.SearchStrategy[str | None],
    actions: st.SearchStrategy[TaskAction],
    statuses: st.SearchStrategy[TaskStatus],
    cancel_fails: st.SearchStrategy[bool],
) -> Task:
    status = draw(statuses)
    created = draw(st.none() | _times())
    finished = None
    progress = None
    if status in (TaskStatus.FINISHED, TaskStatus.FAILED, TaskStatus.DELETED):
        if created is not None:
            finished = created + timedelta(minutes=draw(st.integers(1, 600)))
        progress = "100%" if status is TaskStatus.FINISHED else None
    elif status is TaskStatus.PROCESSING:
        progress = f"{draw(st.integers(0, 99))}%"
    elif status is TaskStatus.WAITING:
        progress = "0%"
    return Task(
        task_id=draw(ids),
        region_id=draw(regions),
        action=draw(actions),
        status=status,
        owner=draw(owners),
        creation_time=created,
        finished_time=finished,
        resource_id=draw(st.none() | st.sampled_from(["m-bp67acfmxazb4p****", "d-bp1d6tsvz****"])),
        progress=progress,
        cancel_fails=draw(cancel_fails),
    )


def tasks(
    *,
    task_ids: st.SearchStrategy[str] | None = None,
    regions: st.SearchStrategy[str] | None = None,
    owners: st.SearchStrategy[str | None] | None = None,
    actions: st.SearchStrategy[TaskAction] | None = None,
    statuses: st.SearchStrategy[TaskStatus] | None = None,
    cancel_fails: st.SearchStrategy[bool] | None = None,
) -> st.SearchStrategy[Task]:
    """Single tasks, of every action and status, without a schedule.

    Parameters
    ----------
    task_ids : SearchStrategy[str], optional
        Default: realistic ids, ``t-`` and 20 lowercase letters and digits.
    regions : SearchStrategy[str], optional
        Default: any built-in ECS region.
    owners : SearchStrategy[str | None], optional
        The owning account. Default: ``None``, the in-memory mock's anonymous account.
    actions : SearchStrategy[TaskAction], optional
        Default: every :class:`~taskcancel.TaskAction`, ``ImportImage`` and
        ``ExportImage`` (the cancellable ones) more often.
    statuses : SearchStrategy[TaskStatus], optional
        Default: every :class:`~taskcancel.TaskStatus`, ``Processing`` (the
        cancellable one) more often.
    cancel_fails : SearchStrategy[bool], optional
        Fault injection (cancelling the task fails with ``CancelTaskFailed``).
        Default: true about one time in five.

    Creation and finish times are whole minutes (the API's resolution); progress
    matches the status.
    """
    for name, knob in (
        ("task_ids", task_ids),
        ("regions", regions),
        ("owners", owners),
        ("actions", actions),
        ("statuses", statuses),
        ("cancel_fails", cancel_fails),
    ):
        _check(name, knob)
    return _task(
        task_ids if task_ids is not None else _default_task_ids(),
        regions if regions is not None else st.sampled_from(_SORTED_REGIONS),
        owners if owners is not None else st.none(),
        actions if actions is not None else _ACTIONS,
        statuses if statuses is not None else _STATUSES,
        cancel_fails if cancel_fails is not None else st.integers(0, 4).map(lambda n: n == 4),
    )


def worlds(
    *,
    min_size: int = 0,
    max_size: int = 8,
    task_ids: st.SearchStrategy[str] | None = None,
    regions: st.SearchStrategy[str] | None = None,
    owners: st.SearchStrategy[str | None] | None = None,
    actions: st.SearchStrategy[TaskAction] | None = None,
    statuses: st.SearchStrategy[TaskStatus] | None = None,
    cancel_fails: st.SearchStrategy[bool] | None = None,
) -> st.SearchStrategy[list[Task]]:
    """Worlds: lists of tasks with unique (region, task id), ready for a store.

    Parameters
    ----------
    min_size, max_size : int
        How many tasks (default 0 to 8).
    task_ids : SearchStrategy[str], optional
        Default: a small pool of realistic ids drawn per world (at most half of
        ``max_size``), so the same id often appears in several regions.
    regions : SearchStrategy[str], optional
        Default: :data:`DEFAULT_REGIONS`, three ECS regions. Every region must exist
        in the store the world is loaded into (the stores default to all ECS regions).
    owners : SearchStrategy[str | None], optional
        Default: :data:`DEFAULT_OWNERS`, ``None`` and two named accounts, so some
        tasks always belong to someone else.
    actions, statuses, cancel_fails : optional
        As for :func:`tasks`.
    """
    if not 0 <= min_size <= max_size:
        raise ValueError(f"need 0 <= min_size <= max_size, got {min_size} and {max_size}")
    _check("task_ids", task_ids)
    region_pool = regions if regions is not None else st.sampled_from(DEFAULT_REGIONS)
    owner_pool = owners if owners is not None else st.sampled_from(DEFAULT_OWNERS)

    def world_from(ids: st.SearchStrategy[str]) -> st.SearchStrategy[list[Task]]:
        one = tasks(
            task_ids=ids,
            regions=region_pool,
            owners=owner_pool,
            actions=actions,
            statuses=statuses,
            cancel_fails=cancel_fails,
        )
        return st.lists(one, min_size=min_size, max_size=max_size, unique_by=lambda t: t.key)

    if task_ids is not None:
        return world_from(task_ids)
    pool_size = max(2, max_size // 2)
    pools = st.lists(_default_task_ids(), min_size=1, max_size=pool_size, unique=True)
    return pools.flatmap(lambda pool: world_from(st.sampled_from(pool)))


def cancel_requests(
    *,
    world: Sequence[Task] | None = None,
    region_ids: st.SearchStrategy[str | None] | None = None,
    task_ids: st.SearchStrategy[str | None] | None = None,
) -> st.SearchStrategy[CancelRequest]:
    """CancelTask requests, well-formed or not.

    Parameters
    ----------
    world : sequence of Task, optional
        When given, many requests name a task of the world exactly, and ids and regions
        are also drawn from it separately (an id of the world in another region).
    region_ids : SearchStrategy[str | None], optional
        Default: missing (``None``), empty, built-in ECS regions, unknown regions (near
        misses such as ``"CN-HANGZHOU"``), arbitrary unicode, and the world's regions.
    task_ids : SearchStrategy[str | None], optional
        Default: missing (``None``), empty, realistic ids that exist nowhere,
        arbitrary unicode, and the world's ids.
    """
    _check("region_ids", region_ids)
    _check("task_ids", task_ids)
    tasks_of_world = list(world or ())
    for task in tasks_of_world:
        if not isinstance(task, Task):
            raise TypeError(f"world must hold Tasks, got {type(task).__name__}: {task!r}")
    unicode = st.text(min_size=1, max_size=24)
    if region_ids is None:
        region_choices: list[st.SearchStrategy[str | None]] = [
            st.none(),
            st.just(""),
            st.sampled_from(_SORTED_REGIONS),
            st.sampled_from(UNKNOWN_REGIONS),
            unicode,
        ]
        if tasks_of_world:
            known = sorted({t.region_id for t in tasks_of_world})
            region_choices += [st.sampled_from(known)] * 3
        region_ids = st.one_of(region_choices)
    if task_ids is None:
        id_choices: list[st.SearchStrategy[str | None]] = [
            st.none(),
            st.just(""),
            _default_task_ids(),
            unicode,
        ]
        if tasks_of_world:
            ids = sorted({t.task_id for t in tasks_of_world})
            id_choices += [st.sampled_from(ids)] * 3
        task_ids = st.one_of(id_choices)
    loose = st.builds(CancelRequest, region_ids, task_ids)
    if not tasks_of_world:
        return loose
    exact = st.sampled_from(tasks_of_world).map(lambda t: CancelRequest(t.region_id, t.task_id))
    return st.one_of(exact, loose)
