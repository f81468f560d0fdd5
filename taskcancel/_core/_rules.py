"""The cancel rules: one pure, total function from (request, world) to an outcome.

Read this module against the CancelTask error table; the checks run in the table's
order, first match wins:

1. RegionId missing                      -> MISSING_REGION_ID
2. TaskId missing                        -> MISSING_TASK_ID
3. region unknown                        -> REGION_NOT_FOUND
4. no such task in that region for the
   calling account                       -> TASK_NOT_FOUND (never reveals other tenants)
5. action not cancellable                -> ACTION_NOT_SUPPORTED
6. status not cancellable                -> INCORRECT_TASK_STATUS
7. otherwise                             -> Accepted

``CANCEL_FAILED`` is never decided here: it is what applying an accepted cancel
yields when the store cannot carry it out. :func:`apply_cancel` is that second step,
written once for every store and the testing kit: a task configured to fail
(``cancel_fails``) is rejected with ``CANCEL_FAILED``, any other accepted task becomes
the cancelled task. The docs do not state the real service's evaluation order; this
one is the order of the doc's table.

This module does no I/O and reads no clock: "now" is an argument.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import attrs

from .._core._model import CancelRequest, Task, TaskAction, TaskStatus, cancelled, task_at

__all__ = [
    "DEFAULT_POLICY",
    "Accepted",
    "Decision",
    "Policy",
    "Reason",
    "Rejected",
    "World",
    "apply_cancel",
    "decide",
    "supports_cancel",
]


class Reason(enum.Enum):
    """Why a cancel was rejected; each maps to one error of the catalogue."""

    MISSING_REGION_ID = "MISSING_REGION_ID"
    MISSING_TASK_ID = "MISSING_TASK_ID"
    REGION_NOT_FOUND = "REGION_NOT_FOUND"
    TASK_NOT_FOUND = "TASK_NOT_FOUND"
    ACTION_NOT_SUPPORTED = "ACTION_NOT_SUPPORTED"
    INCORRECT_TASK_STATUS = "INCORRECT_TASK_STATUS"
    CANCEL_FAILED = "CANCEL_FAILED"

    __hash__ = object.__hash__  # identity hashing: members are singletons


def _actions(values: Iterable[TaskAction | str]) -> frozenset[TaskAction]:
    return frozenset(TaskAction(v) for v in values)


def _statuses(values: Iterable[TaskStatus | str]) -> frozenset[TaskStatus]:
    return frozenset(TaskStatus(v) for v in values)


@attrs.frozen
class Policy:
    """What may be cancelled. The default is the documented contract.

    Both fields accept any iterable of enum members or their wire strings.
    """

    cancellable_actions: frozenset[TaskAction] = attrs.field(
        default=frozenset({TaskAction.IMPORT_IMAGE, TaskAction.EXPORT_IMAGE}),
        converter=_actions,
    )
    cancellable_statuses: frozenset[TaskStatus] = attrs.field(
        default=frozenset({TaskStatus.PROCESSING}), converter=_statuses
    )


DEFAULT_POLICY = Policy()


class World(Protocol):
    """The read-only view of regions and tasks that :func:`decide` needs.

    ``find_task`` never returns a task of a region ``has_region`` denies (a task lives
    in a region of its world): so :func:`decide` looks the task up first, and asks about
    the region only when no task answers -- a hit costs one call.
    """

    def has_region(self, region_id: str) -> bool: ...

    def find_task(self, region_id: str, task_id: str) -> Task | None: ...


@attrs.frozen
class Accepted:
    """The cancel may proceed; ``task`` is the task as found (at ``now``)."""

    task: Task


@attrs.frozen
class Rejected:
    """The cancel is refused for ``reason``."""

    reason: Reason


Decision = Accepted | Rejected

# Rejections are immutable values: build each once.
_REJECTED = {reason: Rejected(reason) for reason in Reason}
_REJECTED_MISSING_REGION_ID = _REJECTED[Reason.MISSING_REGION_ID]
_REJECTED_MISSING_TASK_ID = _REJECTED[Reason.MISSING_TASK_ID]
_REJECTED_REGION_NOT_FOUND = _REJECTED[Reason.REGION_NOT_FOUND]
_REJECTED_TASK_NOT_FOUND = _REJECTED[Reason.TASK_NOT_FOUND]
_REJECTED_ACTION_NOT_SUPPORTED = _REJECTED[Reason.ACTION_NOT_SUPPORTED]
_REJECTED_INCORRECT_TASK_STATUS = _REJECTED[Reason.INCORRECT_TASK_STATUS]


def decide(
    request: CancelRequest,
    world: World,
    *,
    account: str | None = None,
    policy: Policy = DEFAULT_POLICY,
    now: datetime | None = None,
) -> Decision:
    """Decide the outcome of ``request`` against ``world``. Never raises.

    ``account`` is the caller; a task is visible only to its ``owner``. ``now``, when
    given, applies each task's schedule before the status check.
    """
    region_id = request.region_id
    task_id = request.task_id
    if not isinstance(region_id, str) or not region_id:
        return _REJECTED_MISSING_REGION_ID
    if not isinstance(task_id, str) or not task_id:
        return _REJECTED_MISSING_TASK_ID
    # The task first: a world holds tasks only in its own regions, so a hit also says the
    # region exists; on a miss, the region decides which rejection comes first (3 or 4).
    task = world.find_task(region_id, task_id)
    if task is None or task.owner != account or task.region_id != region_id:
        if not world.has_region(region_id):
            return _REJECTED_REGION_NOT_FOUND
        return _REJECTED_TASK_NOT_FOUND
    if task.schedule is not None:
        task = task_at(task, now)
    if task.action not in policy.cancellable_actions:
        return _REJECTED_ACTION_NOT_SUPPORTED
    if task.status not in policy.cancellable_statuses:
        return _REJECTED_INCORRECT_TASK_STATUS
    return Accepted(task)


def apply_cancel(decision: Decision, now: datetime | None) -> Decision:
    """What carrying out ``decision`` at ``now`` comes to. Pure; never raises.

    A rejection stays as it is. An accepted task configured to fail (``cancel_fails``)
    is rejected with ``CANCEL_FAILED``; any other becomes ``Accepted`` of the task after
    the cancel (``Deleted``, finished at ``now``; the other fields as they were).
    Stores write that task; the testing kit's shadow models record it.
    """
    if not isinstance(decision, Accepted):
        return decision
    if decision.task.cancel_fails:
        return _REJECTED[Reason.CANCEL_FAILED]
    return Accepted(cancelled(decision.task, now))


def supports_cancel(task: Task, policy: Policy = DEFAULT_POLICY) -> bool:
    """Whether ``policy`` lets CancelTask accept ``task`` as it stands (``SupportCancel``).

    ``cancel_fails`` does not count: such a task is accepted, then fails to cancel.
    """
    return task.action in policy.cancellable_actions and task.status in policy.cancellable_statuses
