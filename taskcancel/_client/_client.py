"""The client: ``Client`` and ``AsyncClient`` over a pluggable :class:`Transport`.

A transport is as small as httpx's: one method that turns an :class:`ApiRequest`
(action + parameters) into an :class:`ApiResponse` (HTTP status + JSON body), plus
``close``. The client turns error replies into the exceptions of
:mod:`taskcancel._core._exceptions`, recognising the codes of every error profile.

:class:`InMemoryTransport` is the mock: it answers from a store through the same
action handlers the HTTP emulator uses, with no sockets and no signing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from .. import wire
from .._core._exceptions import (
    ApiError,
    AuthenticationError,
    TaskCancelError,
    ThrottlingError,
    rejection_for,
)
from .._core._model import TaskAction, TaskStatus, parse_time
from .._core._rules import DEFAULT_POLICY, Policy, Reason
from .._ids import uuid_request_ids
from .._store import Store
from ..api._actions import ActionContext, Reply, dispatch_explained
from ..api._shapes import IdGenerator
from ..catalogue import ErrorSpec, Profile, get_profile, reason_for_code

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "AsyncClient",
    "AsyncTransport",
    "Client",
    "InMemoryTransport",
    "TaskInfo",
    "TaskPage",
    "Transport",
    "error_from_response",
    "uuid_request_ids",
]


@attrs.frozen
class ApiRequest:
    """One API call: an action and its (string) parameters."""

    action: str
    params: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ApiResponse:
    """The answer: HTTP status, the decoded JSON object, and the reply headers.

    ``reason`` is the rejection's :class:`~taskcancel.Reason` when the transport knows it
    (the in-memory transport does); otherwise it is read back from the code.
    """

    http_status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    reason: Reason | None = None


@runtime_checkable
class Transport(Protocol):
    """Carries an :class:`ApiRequest` to a service and brings back its answer."""

    def handle_request(self, request: ApiRequest) -> ApiResponse: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncTransport(Protocol):
    """The async counterpart of :class:`Transport`."""

    async def handle_async_request(self, request: ApiRequest) -> ApiResponse: ...

    async def aclose(self) -> None: ...


class InMemoryTransport:
    """The mock transport: answers from ``store`` as ``account``, in ``profile``'s words.

    ``request_ids`` makes RequestIds (upper-case UUIDs by default); ``ids`` makes the
    ids of tasks and images created through ImportImage/ExportImage (pass
    ``IdGenerator(seed)`` for repeatable ids).
    """

    def __init__(
        self,
        store: Store,
        *,
        account: str | None = None,
        profile: str | Profile = "2017",
        policy: Policy = DEFAULT_POLICY,
        request_ids: Callable[[], str] = uuid_request_ids,
        ids: Callable[[str], str] | None = None,
    ) -> None:
        self._context = ActionContext(
            store=store,
            account=account,
            profile=get_profile(profile),
            policy=policy,
            ids=ids or IdGenerator(),
        )
        self._request_ids = request_ids

    def handle_request(self, request: ApiRequest) -> ApiResponse:
        explained = dispatch_explained(self._context, request.action, request.params)
        request_id = self._request_ids()
        reason = None
        if explained is None:
            reply: Reply = wire.gateway_error("InvalidAction.NotFound")
        else:
            reply, why = explained
            reason = Reason(why[3]) if why[3] is not None else None
        if isinstance(reply, ErrorSpec):
            body = {"RequestId": request_id, "HostId": "memory", "Code": reply.code}
            body["Message"] = reply.message
            return ApiResponse(reply.http_status, body, reason=reason)
        return ApiResponse(200, {"RequestId": request_id, **reply})

    async def handle_async_request(self, request: ApiRequest) -> ApiResponse:
        return self.handle_request(request)

    def close(self) -> None:
        """Nothing to release; the store belongs to the caller."""

    async def aclose(self) -> None:
        """Nothing to release; the store belongs to the caller."""


_AUTH_CODES = frozenset(
    {
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "InvalidAccessKeySecret",
        "SignatureNonceUsed",
        "InvalidSignatureMethod",
        "InvalidSignatureVersion",
        "Forbidden.RAM",
        "Forbidden.AccessKeyDisabled",
    }
)
_AUTH_PREFIXES = ("InvalidAccessKeyId", "InvalidTimeStamp", "InvalidSecurityToken")


def error_from_response(response: ApiResponse) -> TaskCancelError:
    """The exception an error reply stands for (any profile's codes)."""
    body = response.body
    code = str(body.get("Code") or "")
    message = str(body.get("Message") or "")
    request_id = str(body.get("RequestId") or "")
    status = response.http_status
    reason = response.reason or reason_for_code(code, message)
    if reason is not None:
        return rejection_for(reason, code, status, message, request_id)
    if code.startswith("Throttling"):
        retry = wire.retry_after_ms(response.headers.get("x-acs-retry-after", ""))
        return ThrottlingError(code, status, message, request_id, retry)
    if code in _AUTH_CODES or code.startswith(_AUTH_PREFIXES):
        return AuthenticationError(code, status, message, request_id)
    return ApiError(code, status, message, request_id)


@attrs.frozen
class TaskInfo:
    """A task as the API describes it (DescribeTasks / DescribeTaskAttribute)."""

    task_id: str
    region_id: str
    action: TaskAction
    status: TaskStatus
    support_cancel: bool
    creation_time: datetime | None = None
    finished_time: datetime | None = None
    resource_id: str | None = None
    progress: str | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any], region_id: str) -> TaskInfo:
        def when(key: str) -> datetime | None:
            text = data.get(key) or ""
            return parse_time(text) if text else None

        return cls(
            task_id=str(data["TaskId"]),
            region_id=str(data.get("RegionId") or region_id),
            action=TaskAction(data["TaskAction"]),
            status=TaskStatus(data["TaskStatus"]),
            support_cancel=str(data.get("SupportCancel", "false")).lower() == "true",
            creation_time=when("CreationTime"),
            finished_time=when("FinishedTime"),
            resource_id=data.get("ResourceId") or None,
            progress=data.get("TaskProcess") or None,
        )


@attrs.frozen
class TaskPage:
    """One page of DescribeTasks."""

    tasks: Sequence[TaskInfo]
    total_count: int
    page_number: int
    page_size: int
    request_id: str


def _describe_params(
    region_id: str,
    task_ids: Sequence[str] | None,
    task_action: TaskAction | str | None,
    task_status: TaskStatus | str | None,
    page_number: int,
    page_size: int,
) -> dict[str, str]:
    params = {"RegionId": region_id, "PageNumber": str(page_number), "PageSize": str(page_size)}
    if task_ids:
        params["TaskIds"] = ",".join(task_ids)
    if task_action is not None:
        params["TaskAction"] = TaskAction(task_action).value
    if task_status is not None:
        params["TaskStatus"] = TaskStatus(task_status).value
    return params


def _page(body: Mapping[str, Any], region_id: str) -> TaskPage:
    task_set = body.get("TaskSet") or {}
    items = task_set.get("Task", []) if isinstance(task_set, Mapping) else []
    return TaskPage(
        tasks=tuple(TaskInfo.from_api(item, region_id) for item in items),
        total_count=int(body.get("TotalCount", len(items))),
        page_number=int(body.get("PageNumber", 1)),
        page_size=int(body.get("PageSize", len(items))),
        request_id=str(body.get("RequestId", "")),
    )


def _checked(response: ApiResponse) -> Mapping[str, Any]:
    if response.http_status >= 300:
        raise error_from_response(response)
    return response.body


class Client:
    """A synchronous ECS task client over any :class:`Transport`.

    >>> from taskcancel import Client, InMemoryTransport, MemoryStore, Task
    >>> store = MemoryStore([Task(task_id="t-1", region_id="cn-hangzhou",
    ...                           action="ImportImage", status="Processing")])
    >>> client = Client(InMemoryTransport(store))
    >>> len(client.cancel_task("cn-hangzhou", "t-1"))
    36
    """

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def call(self, action: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        """Any action; returns the success body or raises the mapped exception."""
        return _checked(self.transport.handle_request(ApiRequest(action, dict(params))))

    def cancel_task(self, region_id: str | None, task_id: str | None) -> str:
        """Cancel a running task; returns the RequestId, raises :class:`CancelRejected`."""
        params = {k: v for k, v in (("RegionId", region_id), ("TaskId", task_id)) if v is not None}
        return str(self.call("CancelTask", params).get("RequestId", ""))

    def describe_task_attribute(self, region_id: str, task_id: str) -> TaskInfo:
        """One task, as DescribeTaskAttribute shows it."""
        body = self.call("DescribeTaskAttribute", {"RegionId": region_id, "TaskId": task_id})
        return TaskInfo.from_api(body, region_id)

    def describe_tasks(
        self,
        region_id: str,
        *,
        task_ids: Sequence[str] | None = None,
        task_action: TaskAction | str | None = None,
        task_status: TaskStatus | str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> TaskPage:
        """One page of the caller's tasks in a region, filtered as DescribeTasks does."""
        params = _describe_params(
            region_id, task_ids, task_action, task_status, page_number, page_size
        )
        return _page(self.call("DescribeTasks", params), region_id)


class AsyncClient:
    """The asyncio counterpart of :class:`Client`, over an :class:`AsyncTransport`."""

    def __init__(self, transport: AsyncTransport) -> None:
        self.transport = transport

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.aclose()

    async def call(self, action: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        request = ApiRequest(action, dict(params))
        return _checked(await self.transport.handle_async_request(request))

    async def cancel_task(self, region_id: str | None, task_id: str | None) -> str:
        params = {k: v for k, v in (("RegionId", region_id), ("TaskId", task_id)) if v is not None}
        return str((await self.call("CancelTask", params)).get("RequestId", ""))

    async def describe_task_attribute(self, region_id: str, task_id: str) -> TaskInfo:
        body = await self.call("DescribeTaskAttribute", {"RegionId": region_id, "TaskId": task_id})
        return TaskInfo.from_api(body, region_id)

    async def describe_tasks(
        self,
        region_id: str,
        *,
        task_ids: Sequence[str] | None = None,
        task_action: TaskAction | str | None = None,
        task_status: TaskStatus | str | None = None,
        page_number: int = 1,
        page_size: int = 10,
    ) -> TaskPage:
        params = _describe_params(
            region_id, task_ids, task_action, task_status, page_number, page_size
        )
        return _page(await self.call("DescribeTasks", params), region_id)
