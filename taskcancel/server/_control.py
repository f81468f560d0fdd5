"""The control plane: ``/_taskcancel/...`` routes on the emulator's own port.

Never parsed as ECS RPC. Bodies and answers are JSON in the world file's field names;
errors are ``{"Code": ..., "Message": ...}`` with a 4xx status and the world-file loader's
``SOURCE: FIELD: reason`` message (:mod:`._control_body`). As privileged as the world
file: on a loopback address it is open; elsewhere off unless a token is set (then
``Authorization: Bearer TOKEN``, compared in constant time); ``enabled=False`` turns every
route but ``health`` off. The routes only translate: the work is
:class:`~._operations.Operations`'.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any
from urllib.parse import unquote

from .. import wire
from .._core._text import printable
from .._core._time import format_timestamp
from ..worldfile import Faults, WorldFileError, parse_faults, parse_world
from ._app import CONTROL_PREFIX
from ._control_body import (
    MAX_BODY,
    Refusal,
    as_time,
    bad,
    clock_move,
    parsed,
    read_json,
    stored,
    task_changes,
)
from ._journal import Entry, Filters, parse_filters
from ._net import is_loopback
from ._operations import Operations
from ._request import Answer, Deferred, RawRequest
from ._ui import is_ui, serve
from ._world import STORE_BUSY, is_busy

__all__ = ["PREFIX", "ControlPlane"]

log = logging.getLogger("taskcancel.server")

#: Where the control plane's routes live.
PREFIX = CONTROL_PREFIX

_OFF = (
    "the control plane is off: the server was started with --no-control, or on a "
    "non-loopback address without --control-token"
)
_FORBIDDEN = (
    "Authorization: missing or wrong: the control plane needs 'Authorization: Bearer TOKEN' "
    "with the server's --control-token"
)


class ControlPlane:
    """``handle(request, request_id)`` for requests under :data:`PREFIX`."""

    def __init__(self, ops: Operations, *, enabled: bool = True, token: str | None = None) -> None:
        self.ops, self.enabled, self.token = ops, enabled, token
        self._routes: dict[tuple[str, str], Callable[[RawRequest], tuple[int, Any]]] = {
            ("GET", "health"): lambda _: (200, ops.health()),
            ("HEAD", "health"): lambda _: (200, ops.health()),
            ("GET", "state"): lambda _: (200, ops.state()),
            ("PUT", "world"): self._put_world,
            ("POST", "reset"): self._reset,
            ("POST", "tasks"): self._post_tasks,
            ("PUT", "faults"): self._put_faults,
            ("GET", "faults"): lambda _: (200, ops.faults()),
            ("POST", "clock"): self._post_clock,
            ("GET", "requests"): self._get_requests,
            ("DELETE", "requests"): self._delete_requests,
        }
        self._routes[("GET", "")] = self._index  # every route, for a person who looks

    def handle(self, request: RawRequest, request_id: str) -> Answer | Deferred:
        """The route's answer; ``GET requests?...WaitSeconds=N`` (N > 0) is a
        :class:`Deferred` one, ready once an entry matching the filters exists."""
        begun = request.begun or perf_counter()
        path = request.target.partition(b"?")[0].decode("latin-1")
        if is_ui(path[len(PREFIX) :]):  # the dashboard: static, no secret in it (see _ui)
            return self._ui(request, request_id, path[len(PREFIX) :])
        try:
            status, document = self._dispatch(request, path[len(PREFIX) :])
            code = "OK"
            if isinstance(document, Filters):
                return self._long_poll(request, request_id, document)
        except Refusal as refusal:
            status, code = refusal.status, refusal.code
            document = {"Code": refusal.code, "Message": refusal.message}
        except Exception as exc:  # the last line of defence: a JSON answer, never a drop
            if is_busy(exc):  # the store stayed locked past its busy timeout: retryable
                log.warning("store busy answering %s: %s", request_id, exc)
                status, code = 503, "ServiceUnavailable"
                document = {"Code": code, "Message": f"the store is busy, try again: {exc}"}
            else:
                log.exception("internal error answering control request %s", request_id)
                status, code = 500, "InternalError"
                document = {"Code": code, "Message": f"internal error; see the log ({request_id})"}
        answer = self._answer(request, request_id, status, code, document)
        route = path[len(PREFIX) :]
        journal = self.ops.journal
        if journal.enabled and (
            (request.method, route) in _CHANGES
            or (request.method == "PATCH" and route.startswith("tasks/"))
        ):
            journal.append(
                Entry(
                    kind="control",
                    request_id=request_id,
                    method=request.method,
                    path=path[:256],
                    status=status,
                    code=code,
                    latency_ms=(perf_counter() - begun) * 1000,
                )
            )
        return answer

    def _answer(
        self, request: RawRequest, request_id: str, status: int, code: str, document: Any
    ) -> Answer:
        path = request.target.partition(b"?")[0].decode("latin-1")
        full = json.dumps(document).encode()
        headers: tuple[tuple[str, str], ...] = (
            ("content-type", "application/json;charset=utf-8"),
            ("content-length", str(len(full))),
            ("x-acs-request-id", request_id),
        )
        if status == 503:
            headers += STORE_BUSY.headers
        body = b"" if request.method == "HEAD" else full
        answer = Answer(wire.Response(status, headers, body), request_id, code=code)
        answer.route = f"{request.method} {path}"
        return answer

    def _ui(self, request: RawRequest, request_id: str, route: str) -> Answer:
        """The dashboard's ``route``, under this plane's access rule, with the emulator's
        cancel policy (public facts the page needs to show ``SupportCancel``)."""
        refusal = None
        if not self.enabled:
            refusal = (404, "NotFound", _OFF)
        else:
            foreign = self._foreign(request.headers)
            if foreign is not None:
                refusal = (403, "Forbidden", foreign)
        policy = self.ops.settings.policy
        cancellable = (
            [a.value for a in policy.cancellable_actions],
            [s.value for s in policy.cancellable_statuses],
        )
        return serve(request.method, route, request_id, refusal=refusal, cancellable=cancellable)

    def _dispatch(self, request: RawRequest, route: str) -> tuple[int, Any]:
        if route != "health":
            self._authorize(request)
        method = request.method
        if route.startswith("requests/") and method == "GET":
            wanted = unquote(route[len("requests/") :])
            entry = self.ops.journal.find(wanted)
            if entry is None:
                raise Refusal(404, "NotFound", f"RequestId: no journal entry {wanted!r}")
            return 200, entry.to_json()
        if route.startswith("tasks/"):
            region_id, sep, task_id = route[len("tasks/") :].partition("/")
            if not sep or not region_id or not task_id or "/" in task_id:
                raise Refusal(
                    404, "NotFound", f"no control route {PREFIX}{route}: use tasks/REGION/TASK"
                )
            if method != "PATCH":
                raise Refusal(
                    405, "MethodNotAllowed", f"{method} is not allowed on tasks/REGION/TASK"
                )
            changes = task_changes(read_json(request))
            region_id, task_id = unquote(region_id), unquote(task_id)
            task = stored(lambda: self.ops.change_task(region_id, task_id, changes))
            return 200, self.ops.task_json(task)
        handler = self._routes.get((method, route))
        if handler is None:
            if any(name == route for _, name in self._routes):
                raise Refusal(405, "MethodNotAllowed", f"{method} is not allowed on {route}")
            raise Refusal(404, "NotFound", f"no control route {PREFIX}{route}")
        return handler(request)

    def _authorize(self, request: RawRequest) -> None:
        if not self.enabled:
            raise Refusal(404, "NotFound", _OFF)
        if not self._token_matches(request.headers):
            raise Refusal(403, "Forbidden", _FORBIDDEN)
        foreign = self._foreign(request.headers)
        if foreign is not None:
            raise Refusal(403, "Forbidden", foreign)
        if request.body and not _is_json(request.headers):
            raise Refusal(415, "UnsupportedMediaType", "body: send it as application/json")

    def _foreign(self, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        """Why an open (tokenless, loopback) plane refuses a request a web page could have
        sent -- a foreign ``Origin`` (cross-site) or ``Host`` (DNS rebinding) -- or None.
        With a token the token decides: a page cannot send it."""
        if self.token is not None:
            return None
        for name, value in headers:
            lower = name.lower()
            if lower == b"host" and not _loopback_authority(value):
                return "Host: the open control plane answers only loopback names"
            if lower == b"origin" and not _loopback_origin(value):
                return "Origin: the open control plane refuses requests from web pages"
        return None

    def _token_matches(self, headers: Sequence[tuple[bytes, bytes]]) -> bool:
        if self.token is None:
            return True
        sent = [value for name, value in headers if name.lower() == b"authorization"]
        scheme, _, credentials = (sent[0] if len(sent) == 1 else b"").strip().partition(b" ")
        # The token in constant time; the scheme's case does not matter (RFC 9110 11.1).
        matches = hmac.compare_digest(credentials.strip(), self.token.encode())
        return matches and scheme.lower() == b"bearer"

    def body_limit(self, headers: Sequence[tuple[bytes, bytes]]) -> int:
        """The body a control request may send: a world file's size (8 MiB), but only when
        the plane is on and admits the caller -- the token is checked before the body
        is read, so unauthenticated callers cannot make the server buffer megabytes."""
        admitted = self._token_matches(headers) and self._foreign(headers) is None
        return MAX_BODY if self.enabled and admitted else 0

    # -- routes ---------------------------------------------------------------------------

    def _index(self, request: RawRequest) -> tuple[int, Any]:
        routes = sorted(
            {f"{method} {PREFIX}{name}" for method, name in self._routes if name}
            | {
                f"PATCH {PREFIX}tasks/{{RegionId}}/{{TaskId}}",
                f"GET {PREFIX}requests/{{RequestId}}",
                f"GET {PREFIX}ui",
            }
        )
        return 200, {"Routes": routes, "Ui": f"{PREFIX}ui"}

    def _put_world(self, request: RawRequest) -> tuple[int, Any]:
        data = read_json(request)
        now = None
        if isinstance(data, dict) and "Now" in data:
            data = dict(data)
            now = as_time(data.pop("Now"), "Now")
        anchor = now or self.ops.now()  # where a Schedule without a CreationTime starts
        codes = self.ops.error_codes()
        spec = parsed(lambda: parse_world(data, source="body", now=anchor, error_codes=codes))
        self._check_stalls(spec.faults, "Faults.Rules")
        stored(lambda: self.ops.load(spec, now=now))
        return 200, {"Tasks": len(spec.tasks)}

    def _get_requests(self, request: RawRequest) -> tuple[int, Any]:
        filters = parse_filters(request.target.partition(b"?")[2])
        if filters.wait_seconds > 0:
            return 200, filters  # handle() makes the long-poll (it has the request id)
        return 200, self.ops.journal.answer(filters)

    def _long_poll(
        self, request: RawRequest, request_id: str, filters: Filters
    ) -> Answer | Deferred:
        """The answer now if an entry matches (this runs in a worker: control work is
        offloaded), else a long-poll. On the loop it looks only at entries newer than the
        ones already checked, and expires with nothing found without looking again."""
        journal = self.ops.journal
        seen = journal.seq
        if journal.entries(filters):
            return self._answer(request, request_id, 200, "OK", journal.answer(filters))
        newer = dataclasses.replace(filters, since=max(filters.since or 0, seen))

        def poll() -> Answer | None:
            if not journal.entries(newer):
                return None
            return self._answer(request, request_id, 200, "OK", journal.answer(filters))

        def expire() -> Answer:  # nothing matched: none did when it began, none since
            found = {"Requests": [], "Dropped": journal.dropped}
            return self._answer(request, request_id, 200, "OK", found)

        return Deferred(poll, expire, journal.subscribe, filters.wait_seconds)

    def _delete_requests(self, request: RawRequest) -> tuple[int, Any]:
        query = request.target.partition(b"?")[2]
        if query:  # a filter here would look as if it cleared only what matched
            name = query.split(b"&", 1)[0].split(b"=", 1)[0].decode("latin-1")
            raise bad(f"{printable(name)}: DELETE requests takes no filters: it clears them all")
        return 200, {"Cleared": self.ops.journal.clear()}

    def _reset(self, request: RawRequest) -> tuple[int, Any]:
        self.ops.reset()
        return 200, {"Status": "reset"}

    def _post_tasks(self, request: RawRequest) -> tuple[int, Any]:
        data = read_json(request)
        if not isinstance(data, dict) or "Tasks" not in data:
            raise bad('body: Tasks: required: {"Tasks": [...]}')
        unknown = sorted(set(data) - {"Tasks"})
        if unknown:
            raise bad(f"body: {unknown[0]}: unknown field; known: Tasks")
        current = self.ops.live.current
        world = {  # checked as a world file of the regions and accounts there are now
            "Regions": sorted(current.store.regions()),
            "Accounts": [
                {"AccessKeyId": k, "AccessKeySecret": s} for k, s in current.accounts.items()
            ],
            "Tasks": data["Tasks"],
        }
        spec = parsed(lambda: parse_world(world, source="body", now=self.ops.now()))
        stored(lambda: self.ops.add_tasks(spec.tasks))
        return 201, {"Tasks": [t.task_id for t in spec.tasks]}

    def _put_faults(self, request: RawRequest) -> tuple[int, Any]:
        data = read_json(request)
        try:
            codes = self.ops.error_codes()
            faults = parse_faults(data, "body", "(top level)", error_codes=codes)
        except WorldFileError as exc:
            raise bad(f"body: {exc.field.removeprefix('(top level).')}: {exc.reason}") from None
        self._check_stalls(faults, "Rules")
        self.ops.set_faults(faults)
        document = self.ops.faults()
        if not faults.rules:  # as before rules: the three numbers only
            del document["Rules"]
        return 200, document

    def _check_stalls(self, faults: Faults, field: str) -> None:
        """A ``stall`` may not outlast this server's request deadline (a 400 if it does)."""
        problem = self.ops.stall_problem(faults, field)
        if problem is not None:
            raise bad(f"body: {problem}")

    def _post_clock(self, request: RawRequest) -> tuple[int, Any]:
        seconds, to = clock_move(read_json(request))
        try:
            now = self.ops.move_clock(seconds=seconds, to=to)
        except LookupError as exc:
            raise Refusal(409, "Conflict", str(exc).strip("'\"")) from None
        except OverflowError:
            raise bad(
                f"body: AdvanceSeconds: {seconds!r} s after {format_timestamp(self.ops.now())} "
                "is past the year 9999"
            ) from None
        except ValueError:
            raise bad(
                "body: Now: the clock cannot go backwards: it is "
                f"{format_timestamp(self.ops.now())}, "
                f"asked for {format_timestamp(to or self.ops.now())} "
                f"(POST {PREFIX}reset goes back to the start)"
            ) from None
        return 200, {"Now": format_timestamp(now)}


#: The control routes that change something: each is a journal entry (docs/journal.md).
_CHANGES = frozenset(
    {("PUT", "world"), ("POST", "reset"), ("POST", "tasks"), ("PUT", "faults"), ("POST", "clock")}
)


def _is_json(headers: Sequence[tuple[bytes, bytes]]) -> bool:
    """A JSON body (which a web page cannot send cross-site without a preflight)."""
    types = [v for n, v in headers if n.lower() == b"content-type"]
    return len(types) == 1 and types[0].split(b";")[0].strip().lower() == b"application/json"


def _loopback_authority(value: bytes) -> bool:
    host = value.strip().lower()
    if host.startswith(b"["):  # [::1]:port
        host = host[1 : host.find(b"]")] if b"]" in host else b""
    else:
        host = host.rsplit(b":", 1)[0] if host.count(b":") == 1 else host
    try:
        text = host.decode("ascii")
    except UnicodeDecodeError:
        return False
    return text == "localhost" or is_loopback(text)


def _loopback_origin(value: bytes) -> bool:
    scheme, sep, rest = value.strip().partition(b"://")
    return bool(sep) and scheme.lower() in (b"http", b"https") and _loopback_authority(rest)
