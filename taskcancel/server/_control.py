"""The control plane: ``/_taskcancel/...`` routes on the emulator's own port.

Never parsed as ECS RPC. Bodies and answers are JSON in the world file's field names;
errors are ``{"Code": ..., "Message": ...}`` with a 4xx status and the world-file loader's
``SOURCE: FIELD: reason`` message. As privileged as the world file: on a loopback
address it is open; elsewhere off unless a token is set (then ``Authorization: Bearer
TOKEN``, compared in constant time); ``enabled=False`` turns every route but ``health``
off. The routes only translate: the work is :class:`~._operations.Operations`'.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from .. import wire
from .._model import TaskStatus, check_progress, parse_time
from .._store import UNCHANGED, DuplicateTaskError, TaskNotFoundError, UnknownRegionError
from .._world import WorldFileError, parse_faults, parse_schedule, parse_world
from ._operations import Operations, TaskChanges
from ._request import Answer, RawRequest

__all__ = ["ControlPlane"]

PREFIX = "/_taskcancel/"
_MAX_BODY = 8 * 1024 * 1024


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ControlPlane:
    """``handle(request, request_id)`` for requests under :data:`PREFIX`."""

    def __init__(self, ops: Operations, *, enabled: bool = True, token: str | None = None) -> None:
        self.ops, self.enabled, self.token = ops, enabled, token
        self._routes: dict[tuple[str, str], Callable[[Any], tuple[int, Any]]] = {
            ("GET", "health"): lambda _: (200, ops.health()),
            ("HEAD", "health"): lambda _: (200, ops.health()),
            ("GET", "state"): lambda _: (200, ops.state()),
            ("PUT", "world"): self._put_world,
            ("POST", "reset"): self._reset,
            ("POST", "tasks"): self._post_tasks,
            ("PUT", "faults"): self._put_faults,
            ("POST", "clock"): self._post_clock,
        }

    def handle(self, request: RawRequest, request_id: str) -> Answer:
        path = request.target.partition(b"?")[0].decode("latin-1")
        route = path[len(PREFIX) :]
        try:
            status, document = self._dispatch(request, route)
            code = "OK"
        except _Refusal as refusal:
            status, code = refusal.status, refusal.code
            document = {"Code": refusal.code, "Message": refusal.message}
        body = b"" if request.method == "HEAD" else json.dumps(document).encode()
        headers = (
            ("content-type", "application/json;charset=utf-8"),
            ("content-length", str(len(json.dumps(document).encode()) if not body else len(body))),
            ("x-acs-request-id", request_id),
        )
        answer = Answer(wire.Response(status, headers, body), request_id, code=code)
        answer.route = f"{request.method} {path}"
        return answer

    def _dispatch(self, request: RawRequest, route: str) -> tuple[int, Any]:
        if route != "health":
            self._authorize(request)
        method = request.method
        if route.startswith("tasks/") and method == "PATCH":
            region_id, sep, task_id = route[len("tasks/") :].partition("/")
            if not sep or not region_id or not task_id or "/" in task_id:
                raise _Refusal(404, "NotFound", f"no route {route!r}: use tasks/REGION/TASK")
            return self._patch_task(unquote(region_id), unquote(task_id), _json(request))
        handler = self._routes.get((method, route))
        if handler is None:
            known = any(name == route for _, name in self._routes)
            if known:
                raise _Refusal(405, "MethodNotAllowed", f"{method} is not allowed on {route}")
            raise _Refusal(404, "NotFound", f"no control route {PREFIX}{route}")
        return handler(request)

    def _authorize(self, request: RawRequest) -> None:
        if not self.enabled:
            raise _Refusal(404, "NotFound", "the control plane is off (--no-control)")
        if self.token is None:
            return
        sent = b""
        for name, value in request.headers:
            if name.lower() == b"authorization":
                sent = value
        expected = b"Bearer " + self.token.encode()
        if not hmac.compare_digest(sent, expected):
            raise _Refusal(403, "Forbidden", "missing or wrong Authorization: Bearer token")

    # -- routes ---------------------------------------------------------------------------

    def _put_world(self, request: RawRequest) -> tuple[int, Any]:
        data = _json(request)
        now = None
        if isinstance(data, dict) and "Now" in data:
            data = dict(data)
            now = _time(data.pop("Now"), "Now")
        spec = _parsed(lambda: parse_world(data, source="body", now=self.ops.now()))
        _stored(lambda: self.ops.load(spec, now=now))
        return 200, {"Tasks": len(spec.tasks)}

    def _reset(self, request: RawRequest) -> tuple[int, Any]:
        self.ops.reset()
        return 200, {"Status": "reset"}

    def _post_tasks(self, request: RawRequest) -> tuple[int, Any]:
        data = _json(request)
        if not isinstance(data, dict) or set(data) != {"Tasks"}:
            raise _Refusal(400, "InvalidParameter", 'body: expected {"Tasks": [...]}')
        app = self.ops.app
        world = {
            "Regions": sorted(app.store.regions()),
            "Accounts": [{"AccessKeyId": k, "AccessKeySecret": s} for k, s in app.accounts.items()],
            "Tasks": data["Tasks"],
        }
        spec = _parsed(lambda: parse_world(world, source="body", now=self.ops.now()))
        _stored(lambda: self.ops.add_tasks(spec.tasks))
        return 201, {"Tasks": [t.task_id for t in spec.tasks]}

    def _patch_task(self, region_id: str, task_id: str, data: Any) -> tuple[int, Any]:
        if not isinstance(data, dict):
            raise _Refusal(400, "InvalidParameter", "body: must be a JSON object")
        unknown = set(data) - {"TaskStatus", "CancelFails", "TaskProcess", "Schedule"}
        if unknown:
            raise _Refusal(400, "InvalidParameter", f"body: {sorted(unknown)[0]}: unknown field")
        changes = TaskChanges(
            status=_field(data, "TaskStatus", TaskStatus),
            cancel_fails=_field(data, "CancelFails", _bool),
            progress=_field(data, "TaskProcess", _progress),
            schedule=(
                UNCHANGED
                if "Schedule" not in data
                else None
                if data["Schedule"] is None
                else _parsed(lambda: parse_schedule(data["Schedule"], "body", "Schedule"))
            ),
        )
        task = _stored(lambda: self.ops.change_task(region_id, task_id, changes))
        return 200, {"TaskId": task.task_id, "RegionId": task.region_id}

    def _put_faults(self, request: RawRequest) -> tuple[int, Any]:
        faults = _parsed(lambda: parse_faults(_json(request), "body", "Faults"))
        self.ops.set_faults(faults)
        return 200, {
            "ThrottleRate": faults.throttle_rate,
            "RetryAfterMs": faults.retry_after_ms,
            "LatencyMs": faults.latency_ms,
        }

    def _post_clock(self, request: RawRequest) -> tuple[int, Any]:
        data = _json(request)
        if (
            not isinstance(data, dict)
            or len(data) != 1
            or not set(data) & {"AdvanceSeconds", "Now"}
        ):
            raise _Refusal(
                400, "InvalidParameter", 'body: expected {"AdvanceSeconds": N} or {"Now": "...Z"}'
            )
        try:
            if "Now" in data:
                now = self.ops.move_clock(to=_time(data["Now"], "Now"))
            else:
                seconds = data["AdvanceSeconds"]
                if isinstance(seconds, bool) or not isinstance(seconds, int | float):
                    raise ValueError(f"AdvanceSeconds: must be a number, got {seconds!r}")
                if not 0 <= seconds <= 10 * 365 * 86400:
                    raise ValueError(f"AdvanceSeconds: must be 0..315360000, got {seconds!r}")
                now = self.ops.move_clock(seconds=float(seconds))
        except LookupError as exc:
            raise _Refusal(409, "Conflict", str(exc).strip("'\"")) from None
        except ValueError as exc:
            raise _Refusal(400, "InvalidParameter", f"body: {exc}") from None
        return 200, {"Now": now.strftime("%Y-%m-%dT%H:%M:%SZ")}


def _json(request: RawRequest) -> Any:
    if len(request.body) > _MAX_BODY:
        raise _Refusal(413, "RequestTooLarge", f"body: larger than {_MAX_BODY} bytes")
    try:
        return json.loads(request.body or b"null")
    except (ValueError, RecursionError) as exc:
        raise _Refusal(400, "InvalidParameter", f"body: not JSON: {exc}") from None


def _parsed(parse: Callable[[], Any]) -> Any:
    try:
        return parse()
    except WorldFileError as exc:
        status = 409 if "duplicate" in exc.reason and exc.field.endswith("TaskId") else 400
        raise _Refusal(status, "InvalidParameter", str(exc)) from None


def _stored(change: Callable[[], Any]) -> Any:
    try:
        return change()
    except DuplicateTaskError as exc:
        raise _Refusal(409, "Conflict", f"body: {exc}") from None
    except TaskNotFoundError as exc:
        raise _Refusal(404, "NotFound", str(exc)) from None
    except (UnknownRegionError, ValueError, TypeError) as exc:
        raise _Refusal(400, "InvalidParameter", f"body: {exc}") from None


def _field(data: dict[str, Any], name: str, convert: Callable[[Any], Any]) -> Any:
    if name not in data:
        return None
    try:
        return convert(data[name])
    except (ValueError, TypeError) as exc:
        raise _Refusal(400, "InvalidParameter", f"body: {name}: {exc}") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, got {value!r}")
    return value


def _progress(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string like '40%', got {value!r}")
    return check_progress(value)


def _time(value: Any, name: str) -> datetime:
    try:
        if isinstance(value, str):
            return parse_time(value)
    except ValueError:
        pass
    raise _Refusal(
        400, "InvalidParameter", f"body: {name}: not a UTC time like 2026-01-01T00:00:00Z"
    )
