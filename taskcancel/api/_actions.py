"""The API actions, shared by every transport: parse parameters, call the store, shape the reply.

Both the in-memory transport and the HTTP emulator call :func:`dispatch`, so the same
rules answer whichever way a call arrives. A reply is either a ``dict`` (the success
body, without ``RequestId``) or an :class:`~taskcancel.ErrorSpec` (code, HTTP status,
message); adding the request id and rendering JSON or XML is the caller's job.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from .._core._model import (
    CancelRequest,
    Schedule,
    Task,
    TaskAction,
    TaskStatus,
    parse_time,
)
from .._core._rules import DEFAULT_POLICY, Accepted, Decision, Policy, Reason
from .._store import DuplicateTaskError, Store
from ..catalogue import DEFAULT_PROFILE, ErrorSpec, Profile, missing_parameter_message
from ..wire import v1
from ._shapes import IdGenerator, task_to_api

__all__ = [
    "ACTIONS",
    "ACTION_PARAMETERS",
    "CANCEL_ROWS",
    "COMMON_PARAMETERS",
    "DEFAULT_NEW_TASK_SCHEDULE",
    "ActionContext",
    "Reply",
    "Why",
    "dispatch",
    "dispatch_explained",
    "explain_cancel",
    "ignored_parameters",
]

Reply = dict[str, Any] | ErrorSpec

#: DescribeTasks' TaskStatus filter: only these values take effect; the API page says
#: other values are ignored (docs/emulator.md, the coverage table).
_FILTERABLE_STATUSES = frozenset({"Finished", "Processing", "Failed"})


#: Tasks made by ImportImage/ExportImage start processing at once and finish in 10 minutes.
DEFAULT_NEW_TASK_SCHEDULE = Schedule(queued_seconds=0, processing_seconds=600)


@attrs.frozen
class ActionContext:
    """Who is calling, and under which rules."""

    store: Store
    account: str | None = None
    profile: Profile = DEFAULT_PROFILE
    policy: Policy = DEFAULT_POLICY
    ids: Callable[[str], str] = attrs.field(factory=IdGenerator)
    new_task_schedule: Schedule = DEFAULT_NEW_TASK_SCHEDULE
    #: ImportImage/ExportImage refuse to give one account more tasks than this in a region.
    max_tasks: int = 10_000


def invalid_parameter(name: str) -> ErrorSpec:
    """400 InvalidParameter naming the parameter that was not valid."""
    return ErrorSpec("InvalidParameter", 400, f'The specified parameter "{name}" is not valid.')


def _region(ctx: ActionContext, params: Mapping[str, str]) -> str | ErrorSpec:
    region_id = params.get("RegionId") or ""
    if not region_id:
        return ctx.profile.error(Reason.MISSING_REGION_ID)
    if not ctx.store.has_region(region_id):
        return ctx.profile.error(Reason.REGION_NOT_FOUND)
    return region_id


#: Why an action answered as it did (the journal's ``Decision``): ``(step, check, rule,
#: reason, task)``. ``step`` is ``"rules"`` (a rejection the rules decided), ``"store"``
#: (applying an accepted cancel failed) or ``"ok"``; ``check`` the ``Reason`` name (or,
#: for an error no ``Reason`` names, its code; ``"OK"`` when accepted); ``rule`` the
#: CancelTask contract row 1-7; ``task`` the task the decision was about, or ``None``.
Why = tuple[str, str, int | None, str | None, Task | None]

#: The CancelTask contract table's row (docs/contract.md) that decides each rejection; row 7 is
#: "otherwise": accepted, or ``CANCEL_FAILED`` when applying it fails (docs/contract.md).
CANCEL_ROWS: Mapping[Reason, int] = {
    Reason.MISSING_REGION_ID: 1,
    Reason.MISSING_TASK_ID: 2,
    Reason.REGION_NOT_FOUND: 3,
    Reason.TASK_NOT_FOUND: 4,
    Reason.ACTION_NOT_SUPPORTED: 5,
    Reason.INCORRECT_TASK_STATUS: 6,
    Reason.CANCEL_FAILED: 7,
}
#: Rejections decided before any task was found: the same value every time.
_NO_TASK_WHY: dict[Reason, Why] = {
    reason: ("rules", reason.value, CANCEL_ROWS[reason], reason.value, None)
    for reason in (
        Reason.MISSING_REGION_ID,
        Reason.MISSING_TASK_ID,
        Reason.REGION_NOT_FOUND,
        Reason.TASK_NOT_FOUND,
    )
}
_OK_WHY: Why = ("ok", "OK", None, None, None)


def explain_cancel(ctx: ActionContext, params: Mapping[str, str]) -> tuple[Reply, Why]:
    """CancelTask, and why: the contract row that decided and the task it was about.

    The task is the task as the rules saw it, in the same store operation (its status
    after its schedule, before the cancel); for a rejection about a task (rows 5-7) it is
    the task the rules found, unchanged.
    """
    region_id, task_id = params.get("RegionId"), params.get("TaskId")
    decided: list[Decision] = []
    decision = ctx.store.cancel(
        CancelRequest(region_id, task_id),
        account=ctx.account,
        policy=ctx.policy,
        seen=decided.append,
    )
    before = decided[-1] if decided else None  # the last, should the store have retried
    seen = before.task if isinstance(before, Accepted) else None
    if isinstance(decision, Accepted):
        return {}, ("ok", "OK", 7, None, decision.task if seen is None else seen)
    reason = decision.reason
    why = _NO_TASK_WHY.get(reason)
    if why is None:
        task = seen or ctx.store.get_task(region_id or "", task_id or "", account=ctx.account)
        step = "store" if reason is Reason.CANCEL_FAILED else "rules"
        why = (step, reason.value, CANCEL_ROWS[reason], reason.value, task)
    return ctx.profile.error(reason), why


def cancel_task(ctx: ActionContext, params: Mapping[str, str]) -> Reply:
    return explain_cancel(ctx, params)[0]


def describe_task_attribute(ctx: ActionContext, params: Mapping[str, str]) -> Reply:
    # Same order as CancelTask: both parameters present before the region is looked up.
    task_id = params.get("TaskId") or ""
    if params.get("RegionId") and not task_id:
        return ctx.profile.error(Reason.MISSING_TASK_ID)
    region_id = _region(ctx, params)
    if isinstance(region_id, ErrorSpec):
        return region_id
    task = ctx.store.get_task(region_id, task_id, account=ctx.account)
    if task is None:
        return ctx.profile.error(Reason.TASK_NOT_FOUND)
    body = task_to_api(task, ctx.policy)
    done = task.status in (TaskStatus.FINISHED, TaskStatus.FAILED)
    return {
        "RegionId": region_id,
        **body,
        "TaskProcess": task.progress or ("100%" if task.status is TaskStatus.FINISHED else "0%"),
        "TotalCount": 1,
        "SuccessCount": 1 if task.status is TaskStatus.FINISHED else 0,
        "FailedCount": 1 if task.status is TaskStatus.FAILED else 0,
        "OperationProgressSet": {
            "OperationProgress": [
                {
                    "OperationStatus": task.status.value
                    if not done
                    else ("Success" if task.status is TaskStatus.FINISHED else "Failed"),
                    "ErrorCode": "",
                    "ErrorMsg": "",
                    "RelatedItemSet": {"RelatedItem": []},
                }
            ]
        },
    }


def _int_param(
    params: Mapping[str, str], name: str, default: int, low: int, high: int
) -> int | ErrorSpec:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        return invalid_parameter(name)
    return int(raw)


def describe_tasks(ctx: ActionContext, params: Mapping[str, str]) -> Reply:
    """DescribeTasks: one page of the caller's tasks in a region, by task id.

    Cost: without filters, or filtered by ``TaskIds`` alone, the store counts and pages
    by index and only the page's tasks have their schedules applied -- independent of
    how many tasks the account holds. ``TaskAction``, ``TaskStatus``, ``StartTime`` and
    ``EndTime`` (unless ``TaskIds`` narrows the candidates to at most 100) need every
    task of the account in the region examined: that path is linear in their number,
    which the per-account quota (``max_tasks``) bounds.
    """
    region_id = _region(ctx, params)
    if isinstance(region_id, ErrorSpec):
        return region_id
    page_number = _int_param(params, "PageNumber", 1, 1, 10**9)
    if isinstance(page_number, ErrorSpec):
        return page_number
    page_size = _int_param(params, "PageSize", 10, 1, 100)
    if isinstance(page_size, ErrorSpec):
        return page_size
    wanted: set[str] | None = None
    ids_text = params.get("TaskIds") or ""
    if ids_text:
        wanted = {part.strip() for part in ids_text.split(",") if part.strip()}
        if len(wanted) > 100:
            return invalid_parameter("TaskIds")
    keep = _filters(params)
    if isinstance(keep, ErrorSpec):
        return keep
    start = (page_number - 1) * page_size
    store, account = ctx.store, ctx.account
    if not keep:
        total, page = store.page_tasks(
            region_id, account=account, offset=start, limit=page_size, ids=wanted
        )
    else:
        if wanted is None:
            tasks = store.list_tasks(region_id, account=account)
        else:
            tasks = store.page_tasks(region_id, account=account, offset=0, limit=100, ids=wanted)[1]
        tasks = [t for t in tasks if all(test(t) for test in keep)]
        total, page = len(tasks), tasks[start : start + page_size]
    return {
        "RegionId": region_id,
        "TotalCount": total,
        "PageNumber": page_number,
        "PageSize": page_size,
        "TaskSet": {"Task": [task_to_api(t, ctx.policy) for t in page]},
    }


def _filters(params: Mapping[str, str]) -> list[Callable[[Task], bool]] | ErrorSpec:
    """DescribeTasks' filters other than TaskIds, as tests on a task as it stands now."""
    keep: list[Callable[[Task], bool]] = []
    action = params.get("TaskAction") or ""
    if action:
        keep.append(lambda t: t.action.value == action)
    status = params.get("TaskStatus") or ""
    if status in _FILTERABLE_STATUSES:
        keep.append(lambda t: t.status.value == status)
    for name, compare in (("StartTime", operator.ge), ("EndTime", operator.le)):
        bound_text = params.get(name) or ""
        if bound_text:
            try:
                bound = parse_time(bound_text)
            except ValueError:
                return invalid_parameter(name)
            keep.append(_created(compare, bound))
    return keep


def _created(
    compare: Callable[[datetime, datetime], bool], bound: datetime
) -> Callable[[Task], bool]:
    return lambda t: t.creation_time is not None and compare(t.creation_time, bound)


def missing_parameter(name: str) -> ErrorSpec:
    """400 MissingParameter, in the wording of the CancelTask table."""
    return ErrorSpec("MissingParameter", 400, missing_parameter_message(name))


def _required(params: Mapping[str, str], *names: str) -> ErrorSpec | None:
    for name in names:
        if not params.get(name):
            return missing_parameter(name)
    return None


def _quota_error(ctx: ActionContext) -> ErrorSpec:
    """403 once the caller holds ``max_tasks`` tasks in the region: memory stays bounded."""
    message = f"The account already has {ctx.max_tasks} tasks in this region."
    return ErrorSpec("QuotaExceed.Task", 403, message)


def _create_task(
    ctx: ActionContext, region_id: str, action: TaskAction, resource: Callable[[str], str]
) -> Task | ErrorSpec:
    """A new task with a fresh id; ``resource(task_id)`` names what it works on.

    The quota is counted, not listed: a full account is refused before an id is drawn,
    and :meth:`~taskcancel.Store.create_task` checks it again atomically with the
    insert, so callers racing (in threads or in processes sharing a store) cannot pass
    it. Random ids practically never collide; a seeded generator over a store kept from
    an earlier run with the same seed replays that run's ids, which are skipped here.
    """
    if ctx.store.count_tasks(region_id, account=ctx.account) >= ctx.max_tasks:
        return _quota_error(ctx)
    for _ in range(1_000_000):
        task_id = ctx.ids("t")
        task = Task(
            task_id=task_id,
            region_id=region_id,
            action=action,
            status=TaskStatus.PROCESSING,
            owner=ctx.account,
            creation_time=ctx.store.clock(),
            resource_id=resource(task_id),
            schedule=ctx.new_task_schedule,
        )
        try:
            created = ctx.store.create_task(task, max_tasks=ctx.max_tasks)
        except DuplicateTaskError:  # an id collision; draw again
            continue
        return task if created else _quota_error(ctx)
    raise RuntimeError("could not allocate a fresh task id")


def _start(
    ctx: ActionContext,
    params: Mapping[str, str],
    action: TaskAction,
    required: tuple[str, ...],
    resource: Callable[[str], str],
) -> Task | ErrorSpec:
    """The checks ImportImage and ExportImage share, in order, then the new task."""
    region_id = _region(ctx, params)
    if isinstance(region_id, ErrorSpec):
        return region_id
    missing = _required(params, *required)
    if missing is not None:
        return missing
    for name in required:
        if len(params[name]) > _MAX_PARAMETER_LENGTH.get(name, len(params[name])):
            return invalid_parameter(name)
    return _create_task(ctx, region_id, action, resource)


#: Parameters whose value becomes part of a task, with their longest accepted length.
_MAX_PARAMETER_LENGTH = {"ImageId": 128}


def import_image(ctx: ActionContext, params: Mapping[str, str]) -> Reply:
    """ImportImage: starts an import task for a new image (ImageId + TaskId)."""
    # The image id shares the task id's random part, so it is as unique as the task id
    # (a reseeded generator over a kept store redraws both together).
    required = ("DiskDeviceMapping.1.OSSBucket", "DiskDeviceMapping.1.OSSObject")
    task = _start(ctx, params, TaskAction.IMPORT_IMAGE, required, _image_of)
    if isinstance(task, ErrorSpec):
        return task
    return {"RegionId": task.region_id, "ImageId": task.resource_id, "TaskId": task.task_id}


def _image_of(task_id: str) -> str:
    return "m-" + task_id.removeprefix("t-")


def export_image(ctx: ActionContext, params: Mapping[str, str]) -> Reply:
    """ExportImage: starts an export task for an image to an OSS bucket."""
    image_id = params.get("ImageId") or ""
    required = ("ImageId", "OSSBucket")
    task = _start(ctx, params, TaskAction.EXPORT_IMAGE, required, lambda _task_id: image_id)
    if isinstance(task, ErrorSpec):
        return task
    return {"RegionId": task.region_id, "TaskId": task.task_id}


Handler = Callable[[ActionContext, Mapping[str, str]], Reply]

_HANDLERS: dict[str, Handler] = {
    "CancelTask": cancel_task,
    "DescribeTasks": describe_tasks,
    "DescribeTaskAttribute": describe_task_attribute,
    "ImportImage": import_image,
    "ExportImage": export_image,
}

#: The actions every transport answers.
ACTIONS: frozenset[str] = frozenset(_HANDLERS)


#: The parameters each action reads, besides the common ones: one table for the journal's
#: ``Ignored`` and the docs' API coverage table.
ACTION_PARAMETERS: Mapping[str, frozenset[str]] = {
    "CancelTask": frozenset({"RegionId", "TaskId"}),
    "DescribeTasks": frozenset(
        {
            "RegionId",
            "TaskIds",
            "TaskAction",
            "TaskStatus",
            "StartTime",
            "EndTime",
            "PageNumber",
            "PageSize",
        }
    ),
    "DescribeTaskAttribute": frozenset({"RegionId", "TaskId"}),
    "ImportImage": frozenset(
        {"RegionId", "DiskDeviceMapping.1.OSSBucket", "DiskDeviceMapping.1.OSSObject"}
    ),
    "ExportImage": frozenset({"RegionId", "ImageId", "OSSBucket"}),
}

#: Parameters of the RPC protocol rather than of an action (the V1 signature's, and what
#: the SDKs add to every call: ``OwnerId`` and friends, ``ClientToken``, ``SignatureType``).
#: ACS3's ``x-acs-*`` headers are not parameters and never show up here.
COMMON_PARAMETERS: frozenset[str] = v1.COMMON_PARAMETERS | {
    "RegionId",
    "OwnerId",
    "OwnerAccount",
    "ResourceOwnerId",
    "ResourceOwnerAccount",
    "ClientToken",
    "Callback",
}


def ignored_parameters(action: str, names: Iterable[str]) -> list[str]:
    """The names in ``names`` that ``action`` does not read and are not common, sorted
    (``TaskID`` sent instead of ``TaskId``); every name for an unknown action."""
    own = ACTION_PARAMETERS.get(action, frozenset())
    return sorted(name for name in names if name not in own and name not in COMMON_PARAMETERS)


def dispatch(ctx: ActionContext, action: str, params: Mapping[str, str]) -> Reply | None:
    """Run ``action``; ``None`` if no such action (the caller renders the gateway error)."""
    handler = _HANDLERS.get(action)
    return None if handler is None else handler(ctx, params)


def dispatch_explained(
    ctx: ActionContext, action: str, params: Mapping[str, str]
) -> tuple[Reply, Why] | None:
    """:func:`dispatch`, with why it answered so (the journal's ``Decision``)."""
    if action == "CancelTask":
        return explain_cancel(ctx, params)
    handler = _HANDLERS.get(action)
    if handler is None:
        return None
    reply = handler(ctx, params)
    if not isinstance(reply, ErrorSpec):
        return reply, _OK_WHY
    reason = _reason_of(ctx.profile, reply)
    check = reply.code if reason is None else reason.value
    return reply, ("rules", check, None, None if reason is None else reason.value, None)


def _reason_of(profile: Profile, spec: ErrorSpec) -> Reason | None:
    for reason, known in profile.errors.items():
        if known is spec:
            return reason
    return None
