"""The emulator: a synchronous, sans-IO ``handle(request) -> answer`` for ECS RPC calls.

Each request goes: the control plane's prefix (:mod:`._control`) or parse
(:mod:`taskcancel.wire`) -> gateway checks (action, access key, timestamp, signature,
nonce, throttling) -> the shared action handlers over a store -> render. No sockets and
no waiting here: the connection layer (:mod:`._connection`) or the ASGI adapter
(:mod:`._asgi`) carries the bytes and pays injected latency (``Answer.delay``). Every
request, however malformed, is answered with an Aliyun-shaped error, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from time import perf_counter
from typing import Any, Protocol

import attrs

from .. import wire
from .._ids import RequestIds
from .._store import Clock, system_clock
from ..api._actions import ACTIONS, ActionContext, dispatch_explained
from ..api._shapes import IdGenerator
from ..catalogue import ErrorSpec
from ._faults import rule_error
from ._journal import Entry, Journal, TaskFields
from ._nonces import FULL, REPLAY
from ._request import Answer, Decision, Deferred, Pending, RawRequest
from ._settings import Settings
from ._world import STORE_BUSY, LiveWorld, WorldState, is_busy

__all__ = ["CONTROL_PREFIX", "ControlRoutes", "Emulator"]

log = logging.getLogger("taskcancel.server")

CONTROL_PREFIX = wire.CONTROL_PREFIX
_CONTROL_PREFIX = CONTROL_PREFIX.encode()


class ControlRoutes(Protocol):
    """What the app needs of the control plane mounted beside it."""

    def handle(self, request: RawRequest, request_id: str) -> Answer | Deferred: ...

    def body_limit(self, headers: Sequence[tuple[bytes, bytes]]) -> int: ...


class Emulator:
    """The application: ECS RPC over the world in force, the control plane beside it.

    Built by :func:`~taskcancel.server.build`; its options are ``settings``, its world
    is ``live.current`` (read once per request), and nothing outside it assigns its
    attributes. ``clock`` is the gateway's (timestamps); a store's own clock drives its
    tasks' schedules.
    """

    def __init__(
        self,
        settings: Settings,
        live: LiveWorld,
        *,
        control: ControlRoutes | None = None,
        clock: Clock | None = None,
        request_ids: Callable[[], str] | None = None,
        ids: Callable[[str], str] | None = None,
        chance: Callable[[], float] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.settings = settings
        self.live = live
        self.control = control
        self.clock = clock or system_clock
        self.request_ids = request_ids or RequestIds()
        self.ids = ids or IdGenerator(settings.seed)
        # Every chance comes from the generator seeded by ``settings.seed`` (--seed) that
        # fault rules draw from: the same calls in the same order fare the same.
        self._chance = chance or live.fault_rules.chance
        self._contexts: dict[str, ActionContext] = {}
        #: The request journal (docs/journal.md): every ECS call, once its answer is rendered.
        self.journal = journal or Journal(
            settings.journal_size, clock=lambda: live.current.store.clock()
        )

    @property
    def blocking(self) -> bool:
        """Whether answering may block on I/O (a store on disk): then not on the loop."""
        return self.live.current.blocking

    def control_body_limit(self, headers: Sequence[tuple[bytes, bytes]]) -> int:
        """The largest body this control-plane request may send (0: none, or no plane)."""
        return 0 if self.control is None else self.control.body_limit(headers)

    # -- the sans-IO entry points --------------------------------------------------------

    def handle(self, request: RawRequest) -> Answer | Deferred:
        """The answer to one complete request (a long-poll: a :class:`Deferred`). Never raises."""
        staged = self.stage(request)
        return staged.run() if isinstance(staged, Pending) else staged

    def stage(self, request: RawRequest) -> Answer | Deferred | Pending:
        """The answer, when the store is not needed for it (refusals, health); otherwise
        the store's part as :class:`Pending` work, which a connection layer serving a
        store on disk runs in a worker thread. Never raises.

        One request sees one world from authentication to answer: the gateway's checks and
        the action run together under the world gate (on disk: in the worker).
        """
        request_id = self.request_ids()
        target = request.target
        if target.startswith(_CONTROL_PREFIX) and self.control is not None:
            too_large = wire.check_headers(request.headers, self.settings.limits)
            if too_large is not None:  # the limits of every request, the plane's too
                return self._refused(request_id, too_large)
            run = functools.partial(self.control.handle, request, request_id)
            if target.startswith(_HEALTH):
                return run()
            # A world file of megabytes is decoded and checked off the loop: ECS calls
            # go on being answered meanwhile.
            return Pending(run, writes=request.method != "GET", offload=True)
        answer = Answer(_NO_RESPONSE, request_id)
        if not request.begun and self.journal.enabled:
            request.begun = perf_counter()  # the journal's LatencyMs (ASGI, in-process)
        fmt, call, refusal = self._parse(request, answer)
        if call is None:
            return self._render(request, answer, fmt, refusal or _INTERNAL)
        world = self.live.current
        if not world.blocking:  # in memory, never waits: at once, here
            return self._gated(request, answer, fmt, call, None)
        # A write queued behind writers waiting for a lock gets only what is left of the
        # store's wait budget, not a fresh one (see _gated).
        writes = call.action in _WRITES
        budget: float | None = getattr(world.store, "timeout", None) if writes else None
        due = None if budget is None else time.monotonic() + budget
        gated = functools.partial(self._gated, request, answer, fmt, call, due)
        return Pending(gated, writes=writes, offload=True)

    def _parse(
        self, request: RawRequest, answer: Answer
    ) -> tuple[str, wire.Call | None, ErrorSpec | None]:
        """Decode and parse: the call, or the refusal to answer (no world needed)."""
        fmt = "JSON"
        try:
            path, _, query = request.target.partition(b"?")
            decoded = wire.decode_request(
                request.method,
                path,
                query,
                request.headers,
                request.body,
                limits=self.settings.limits,
            )
            if not isinstance(decoded, wire.DecodedRequest):
                return fmt, None, decoded
            fmt = decoded.response_format
            parsed = wire.parse_call(decoded)
            if not isinstance(parsed, wire.Call):
                if parsed.code == "MissingAction":  # e.g. a browser's GET /: say what answers
                    parsed = attrs.evolve(parsed, message=parsed.message + _MISSING_ACTION_HINT)
                return fmt, None, parsed
            return self._describe(parsed, answer), parsed, None
        except Exception:  # the last line of defence: never a traceback on the wire
            log.exception("internal error answering request %s", answer.request_id)
            return fmt, None, _INTERNAL

    def _admit(self, world: WorldState, call: wire.Call, answer: Answer) -> ErrorSpec | None:
        """The gateway's refusal of ``call`` in ``world`` (authentication, throttling), or
        a fault rule's ``Error`` (rules see only authenticated calls)."""
        try:
            refusal = self.authenticate(call, world)
            if refusal is not None:
                answer.decision = _gateway_decision(refusal.code)
            else:
                if world.faults.rules:  # after signature, timestamp and nonce: the rules
                    refusal = self._fault(world, call, answer)
                    if refusal is not None or answer.fault is not None:
                        return refusal
                refusal = self._throttle(world)
                if refusal is not None:
                    answer.decision = _THROTTLE_FAULT
        except Exception:  # the last line of defence: never a traceback on the wire
            log.exception("internal error answering request %s", answer.request_id)
            return _INTERNAL
        if refusal is None and world.faults.latency_ms > 0:
            answer.delay += world.faults.latency_ms / 1000
        return refusal

    def _fault(self, world: WorldState, call: wire.Call, answer: Answer) -> ErrorSpec | None:
        """Apply the fault rule that decides ``call``, if one does (docs/faults.md): its
        ``Error`` is returned, to be answered; ``reset``/``stall`` are answered here
        (the action is not run); ``reset-after``/``truncate`` run the action, then the
        connection layer applies the fault to its answer. ``LatencyMs`` adds a delay.
        """
        faults = world.faults
        params = call.params
        rule = self.live.fault_rules.decide(
            call.action,
            params.get("RegionId", ""),
            params.get("TaskId", ""),
            call.access_key_id,
            self.clock,  # read only by a rule with After
            faults,
        )
        if rule is None:
            return None
        answer.decision = Decision(step="fault", check=rule.name)
        if rule.latency_ms:
            answer.delay += rule.latency_ms / 1000
        if rule.error is not None:
            return rule_error(rule.error, self.settings.profile, faults.retry_after_ms)
        if rule.fault is None:  # LatencyMs alone: delayed, then answered as usual
            return None
        answer.fault = rule.fault
        if rule.fault == "stall":
            answer.stall_seconds = rule.stall_seconds or 0.0
        if rule.fault in _BEFORE_ACTION:
            # Nothing is sent (the connection layer drops or stalls the connection); a
            # layer that did not would send this error, never the action's answer.
            return _INTERNAL
        return None

    def _gated(
        self,
        request: RawRequest,
        answer: Answer,
        fmt: str,
        call: wire.Call,
        due: float | None,
    ) -> Answer:
        """The gateway's checks and the action under the world gate: one world from
        authentication to answer, whatever the control plane does meanwhile."""
        if due is not None and time.monotonic() > due:
            # It waited its whole budget in the queue behind writers held by a lock.
            log.warning("store busy answering %s: queued past its wait", answer.request_id)
            answer.decision = _STORE_BUSY_DECISION
            return self._render(request, answer, fmt, STORE_BUSY, call)
        with self.live.gate:  # a control-plane reset or load waits for it
            world = self.live.current
            refusal = self._admit(world, call, answer)
            if refusal is not None:
                return self._render(request, answer, fmt, refusal, call)
            return self._render(request, answer, fmt, self._act(world, call, answer), call)

    def _act(
        self, world: WorldState, call: wire.Call, answer: Answer
    ) -> dict[str, Any] | ErrorSpec:
        try:
            return self._reply(world, call, answer)
        except Exception as exc:
            if is_busy(exc):  # the store stayed locked past its busy timeout: retryable
                log.warning("store busy answering %s: %s", answer.request_id, exc)
                answer.decision = _STORE_BUSY_DECISION
                return STORE_BUSY
            log.exception("internal error answering request %s", answer.request_id)
            answer.decision = _INTERNAL_DECISION
            return _INTERNAL

    def _render(
        self,
        request: RawRequest,
        answer: Answer,
        fmt: str,
        outcome: dict[str, Any] | ErrorSpec,
        call: wire.Call | None = None,
    ) -> Answer:
        """Render ``outcome``, then journal the call (``call``: as parsed, if it was)."""
        if isinstance(outcome, dict):
            answer.response = wire.render_success(
                answer.action, outcome, request_id=answer.request_id, response_format=fmt
            )
        else:
            answer.code = outcome.code
            answer.response = wire.render_error(
                outcome,
                request_id=answer.request_id,
                host_id=_host_id(request),
                response_format=fmt,
            )
        if self.journal.enabled:
            self._record(request, answer, call)
        return answer

    def _record(self, request: RawRequest, answer: Answer, call: wire.Call | None) -> None:
        """Journal one ECS call, its answer rendered."""
        self.journal.append(
            Entry.ecs(
                request_id=answer.request_id,
                method=request.method,
                target=request.target,
                body_size=len(request.body),
                status=answer.response.status,
                code=answer.code,
                latency_ms=(perf_counter() - request.begun) * 1000 if request.begun else 0.0,
                action=None if call is None else call.action,
                signature=None if call is None else _SCHEMES.get(call.scheme),
                access_key_id=None if call is None else call.access_key_id,
                params=None if call is None else call.params,
                decision=answer.decision,
            )
        )

    def _refused(self, request_id: str, error: wire.GatewayError) -> Answer:
        """``error`` answered before anything was decoded (in JSON)."""
        response = wire.render_error(
            error, request_id=request_id, host_id=wire.DEFAULT_HOST_ID, response_format="JSON"
        )
        return Answer(response, request_id, code=error.code)

    def refusal(self, error: wire.GatewayError) -> Answer:
        """The answer to bytes refused before they made a request (the connection layer's)."""
        return self._refused(self.request_ids(), error)

    # -- the steps ----------------------------------------------------------------------

    def _describe(self, call: wire.Call, answer: Answer) -> str:
        """Fill in what the log says about ``call``; returns its response format."""
        params = call.params
        # Only known actions are logged by name: the rest is caller-chosen text.
        answer.action = call.action if call.action in ACTIONS else "(unknown action)"
        answer.region_id = params.get("RegionId", "")
        answer.task_id = params.get("TaskId", "")
        answer.access_key_id = call.access_key_id
        if self.settings.debug or self.journal.enabled:
            answer.params = params
        return call.response_format

    def authenticate(self, call: wire.Call, world: WorldState) -> ErrorSpec | None:
        """The gateway checks, in order: action/version, key, timestamp, signature, nonce."""
        error = wire.check_action(call, ACTIONS)
        if error is not None:
            return error
        secret = world.accounts.get(call.access_key_id)
        if secret is None:
            return wire.GATEWAY_ERRORS["InvalidAccessKeyId.NotFound"]
        now = self.clock()
        error = wire.check_timestamp(call, now=now, window=self.settings.timestamp_window)
        if error is None:
            error = wire.verify_signature(call, secret)
        if error is None:
            nonces = self.live.nonces
            verdict = nonces.check(call.access_key_id, call.nonce, now)
            if verdict is REPLAY:
                error = wire.GATEWAY_ERRORS["SignatureNonceUsed"]
            elif verdict is FULL:
                wait = nonces.retry_after_ms(call.access_key_id, now)
                error = wire.gateway_error("Throttling.User", retry_after_ms=wait)
        return error

    def _throttle(self, world: WorldState) -> ErrorSpec | None:
        faults = world.faults
        rate = faults.throttle_rate
        if rate > 0 and self._chance() < rate:
            return wire.gateway_error("Throttling.User", retry_after_ms=faults.retry_after_ms)
        return None

    def _reply(
        self, world: WorldState, call: wire.Call, answer: Answer
    ) -> dict[str, Any] | ErrorSpec:
        """Run an admitted call's action over the world's store; why goes in ``answer``."""
        context = self._context(world, call.access_key_id)
        explained = dispatch_explained(context, call.action, call.params)
        if explained is None:  # authenticate() already refused unknown actions
            return wire.GATEWAY_ERRORS["InvalidAction.NotFound"]
        reply, (step, check, rule, reason, task) = explained
        fault = answer.decision  # a fault rule that let the action run still decided
        if fault is not None and fault.step == "fault":
            step, check = fault.step, fault.check
        answer.decision = Decision(
            step, check, rule, reason, None if task is None else TaskFields(task)
        )
        return reply

    def _context(self, world: WorldState, account: str) -> ActionContext:
        """The caller's context, rebuilt only when the world's store changed."""
        context = self._contexts.get(account)
        if context is None or context.store is not world.store:
            settings = self.settings
            context = ActionContext(
                store=world.store,
                account=account,
                profile=settings.profile,
                policy=settings.policy,
                ids=self.ids,
                new_task_schedule=settings.new_task_schedule,
                max_tasks=settings.max_tasks_per_account,
            )
            self._contexts[account] = context
        return context


_NO_RESPONSE = wire.Response(500, (), b"")  # replaced before an Answer leaves handle()
_INTERNAL = wire.GATEWAY_ERRORS["InternalError"]
#: Appended to MissingAction's message (code and status stay the real service's): a person
#: who opened the endpoint in a browser learns what answered and where to look.
_MISSING_ACTION_HINT = (
    " (This is the taskcancel ECS emulator: send an ECS API call, e.g. Action=CancelTask;"
    " its control plane is under /_taskcancel/.)"
)
#: Wire faults that happen before the action runs (nothing done).
_BEFORE_ACTION = frozenset({"reset", "stall"})
_HEALTH = _CONTROL_PREFIX + b"health"
#: Actions that write to the store (their store work runs in the writers' pool).
_WRITES = frozenset({"CancelTask", "ImportImage", "ExportImage"})


#: The journal's ``Signature`` of each scheme.
_SCHEMES = {wire.Scheme.ACS3: "ACS3", wire.Scheme.V1: "V1"}
_STORE_BUSY_DECISION = Decision("store", "busy")
_INTERNAL_DECISION = Decision("store", "internal-error")
_THROTTLE_FAULT = Decision("fault", "throttle")
#: The gateway check behind each refusal (docs/journal.md's ``Check``); the codes not listed
#: are the timestamp's (``...TimeStamp...``) or the signature's.
_GATEWAY_CHECKS = {
    "InvalidAction.NotFound": "action",
    "InvalidVersion": "action",
    "InvalidAccessKeyId.NotFound": "access-key",
    "SignatureNonceUsed": "nonce",
    "Throttling.User": "nonce",  # the nonce registry is full: the caller is too fast
}


def _gateway_decision(code: str) -> Decision:
    check = _GATEWAY_CHECKS.get(code)
    if check is None:
        check = "timestamp" if "TimeStamp" in code or "Timestamp" in code else "signature"
    return Decision("gateway", check)


def _host_id(request: RawRequest) -> str:
    for name, value in request.headers:
        if name.lower() == b"host":
            # A host name is ASCII (IDNA); anything else is not echoed back.
            text = value.decode("ascii", "replace")
            host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
            if host and host.isascii() and host.isprintable() and len(host) <= 255:
                return host
    return wire.DEFAULT_HOST_ID
