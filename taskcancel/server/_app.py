"""The emulator: a synchronous, sans-IO ``handle(request) -> answer`` for ECS RPC calls.

Each request goes: the control plane's prefix (:mod:`._control`) or parse
(:mod:`taskcancel.wire`) -> gateway checks (action, access key, timestamp, signature,
nonce, throttling) -> the shared action handlers over a store -> render. No sockets and
no waiting here: the connection layer (:mod:`._protocol`) or the ASGI adapter
(:mod:`._asgi`) carries the bytes and pays injected latency (``Answer.delay``). Every
request, however malformed, is answered with an Aliyun-shaped error, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import attrs

from .. import wire
from .._api._actions import ACTIONS, DEFAULT_NEW_TASK_SCHEDULE, ActionContext, IdGenerator, dispatch
from .._core._catalogue import ErrorSpec, Profile, get_profile
from .._core._model import Schedule
from .._core._rules import DEFAULT_POLICY, Policy
from .._ids import RequestIds
from .._store import Clock, MemoryStore, Store, system_clock
from .._store.sqlite import is_busy
from ..worldfile import check_rule_codes
from ..worldfile._world import DEFAULT_ACCOUNTS, NO_FAULTS, Faults
from ._asgi import AsgiAdapter
from ._faults import FaultRules, error_codes, rule_error
from ._gate import WorldGate
from ._nonces import FULL, REPLAY, NonceRegistry
from ._request import Answer, Decision, Pending, RawRequest

__all__ = ["Emulator"]

log = logging.getLogger("taskcancel.server")

_CONTROL_PREFIX = b"/_taskcancel/"


class Emulator(AsgiAdapter):
    """The application. Accounts, faults and the store can change while it runs."""

    def __init__(
        self,
        store: Store,
        *,
        accounts: Mapping[str, str] = DEFAULT_ACCOUNTS,
        profile: str | Profile = "2017",
        policy: Policy = DEFAULT_POLICY,
        clock: Clock | None = None,
        request_ids: Callable[[], str] | None = None,
        timestamp_window: timedelta = timedelta(minutes=15),
        faults: Faults = NO_FAULTS,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        chance: Callable[[], float] | None = None,
        nonce_capacity: int = 100_000,
        ids: Callable[[str], str] | None = None,
        new_task_schedule: Schedule = DEFAULT_NEW_TASK_SCHEDULE,
        max_tasks_per_account: int = 10_000,
        seed: int | str | None = None,
    ) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self.profile = get_profile(profile)
        self.policy = policy
        self.clock = clock or system_clock
        self.request_ids = request_ids or RequestIds()
        self.timestamp_window = timestamp_window
        # Fault rules and their counts; every chance is drawn from its generator, seeded
        # by ``seed`` (``--seed``), so the same calls in the same order fare the same.
        self.fault_rules = FaultRules(seed=seed)
        self.faults = faults
        self.limits = limits
        self._chance = chance or self.fault_rules.chance
        self.ids = ids or IdGenerator()
        self.max_tasks_per_account = max_tasks_per_account
        self.new_task_schedule = new_task_schedule
        self._contexts: dict[str, ActionContext] = {}
        # A request may be stamped up to one window ahead and is then good for two:
        # remember nonces that long, or a replay slips through.
        self.nonces = NonceRegistry(window=2 * timestamp_window, max_entries=nonce_capacity)
        self.control: Callable[[RawRequest, str], Answer] | None = None
        self.gate = WorldGate()  # requests share it; the control plane's reset holds it alone
        # How large a body a control-plane request may send (the plane sets it; 0: none).
        self.control_body_limit: Callable[[Sequence[tuple[bytes, bytes]]], int] = _no_body
        self.debug = False  # put each request's parameters in its Answer (for the log)

    @property
    def faults(self) -> Faults:
        """The faults in force; setting them puts every rule's counts back at zero.

        ``ValueError`` for a rule whose ``Error`` is not a code of this profile or the
        gateway (nothing changes then)."""
        return self.fault_rules.faults

    @faults.setter
    def faults(self, faults: Faults) -> None:
        check_rule_codes(faults.rules, error_codes(self.profile), "faults", "Rules")
        self.fault_rules.set(faults)

    @property
    def blocking(self) -> bool:
        """Whether answering may block on I/O (a store on disk): then not on the loop."""
        return not isinstance(self.store, MemoryStore)

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept another AccessKey pair; its tasks are invisible to other accounts."""
        if not access_key_id or not access_key_secret:
            raise ValueError("access key id and secret must be non-empty")
        self.accounts[access_key_id] = access_key_secret

    # -- the sans-IO entry points --------------------------------------------------------

    def handle(self, request: RawRequest) -> Answer:
        """The answer to one complete request. Never raises."""
        staged = self.stage(request)
        return staged if isinstance(staged, Answer) else staged.run()

    def stage(self, request: RawRequest) -> Answer | Pending:
        """The answer, when the store is not needed for it (refusals, health); otherwise
        the store's part as :class:`Pending` work, which a connection layer serving a
        store on disk runs in a worker thread. Never raises."""
        request_id = self.request_ids()
        target = request.target
        if target.startswith(_CONTROL_PREFIX) and self.control is not None:
            run = functools.partial(self.control, request, request_id)
            if target.startswith(_HEALTH):
                return run()
            return Pending(run, writes=request.method != "GET")
        answer = Answer(_NO_RESPONSE, request_id)
        fmt, call, refusal = self._front(request, answer)
        if call is None:
            return self._render(request, answer, fmt, refusal or _INTERNAL)
        writes = call.action in _WRITES
        # A write queued behind writers waiting for a lock gets only what is left of the
        # store's wait budget, not a fresh one (see _back). A store that never waits (in
        # memory) has no budget: no clock read on its hot path.
        budget: float | None = getattr(self.store, "timeout", None) if writes else None
        due = None if budget is None else time.monotonic() + budget
        return Pending(
            functools.partial(self._back, request, answer, fmt, call, due), writes=writes
        )

    def _front(
        self, request: RawRequest, answer: Answer
    ) -> tuple[str, wire.Call | None, ErrorSpec | None]:
        """Parse and pass the gateway: the call to run, or the refusal to answer."""
        fmt = "JSON"
        try:
            path, _, query = request.target.partition(b"?")
            decoded = wire.decode_request(
                request.method, path, query, request.headers, request.body, limits=self.limits
            )
            if not isinstance(decoded, wire.DecodedRequest):
                return fmt, None, decoded
            fmt = decoded.response_format
            parsed = wire.parse_call(decoded)
            if not isinstance(parsed, wire.Call):
                return fmt, None, parsed
            fmt = self._describe(parsed, answer)
            refusal = self._gate(parsed, answer)
            if refusal is not None:
                return fmt, None, refusal
            if self.faults.latency_ms > 0:
                answer.delay += self.faults.latency_ms / 1000
            return fmt, parsed, None
        except Exception:  # the last line of defence: never a traceback on the wire
            log.exception("internal error answering request %s", answer.request_id)
            return fmt, None, _INTERNAL

    def _back(
        self,
        request: RawRequest,
        answer: Answer,
        fmt: str,
        call: wire.Call,
        due: float | None = None,
    ) -> Answer:
        """Run an admitted call over the store (one world per request) and render it;
        ``due`` (``time.monotonic()``) is when a write's wait budget runs out."""
        outcome: dict[str, Any] | ErrorSpec
        if due is not None and time.monotonic() > due:
            # It waited its whole budget in the queue behind writers held by a lock.
            log.warning("store busy answering %s: queued past its wait", answer.request_id)
            return self._render(request, answer, fmt, STORE_BUSY)
        try:
            with self.gate:  # a control-plane reset or load waits for it
                outcome = self._reply(call)
        except Exception as exc:
            if is_busy(exc):  # the store stayed locked past its busy timeout: retryable
                log.warning("store busy answering %s: %s", answer.request_id, exc)
                outcome = STORE_BUSY
            else:
                log.exception("internal error answering request %s", answer.request_id)
                outcome = _INTERNAL
        return self._render(request, answer, fmt, outcome)

    def _render(
        self, request: RawRequest, answer: Answer, fmt: str, outcome: dict[str, Any] | ErrorSpec
    ) -> Answer:
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
        return answer

    def refusal(self, error: wire.GatewayError) -> Answer:
        """The answer to bytes refused before they made a request (the connection layer's)."""
        request_id = self.request_ids()
        response = wire.render_error(
            error, request_id=request_id, host_id=wire.DEFAULT_HOST_ID, response_format="JSON"
        )
        return Answer(response, request_id, code=error.code)

    # -- the steps ----------------------------------------------------------------------

    def _describe(self, call: wire.Call, answer: Answer) -> str:
        """Fill in what the log says about ``call``; returns its response format."""
        params = call.params
        # Only known actions are logged by name: the rest is caller-chosen text.
        answer.action = call.action if call.action in ACTIONS else "(unknown action)"
        answer.region_id = params.get("RegionId", "")
        answer.task_id = params.get("TaskId", "")
        answer.access_key_id = call.access_key_id
        if self.debug:
            answer.params = params
        return call.response_format

    def _gate(self, call: wire.Call, answer: Answer) -> ErrorSpec | None:
        """The gateway's refusal of ``call`` (authentication), a fault rule's ``Error``
        (rules see only authenticated calls), or throttling, if any."""
        refusal = self.authenticate(call)
        if refusal is None and self.fault_rules.rules:
            refusal = self._fault(call, answer)
            if refusal is not None or answer.fault is not None:
                return refusal
        return refusal or self._throttle()

    def authenticate(self, call: wire.Call) -> ErrorSpec | None:
        """The gateway checks, in order: action/version, key, timestamp, signature, nonce."""
        error = wire.check_action(call, ACTIONS)
        if error is not None:
            return error
        secret = self.accounts.get(call.access_key_id)
        if secret is None:
            return wire.GATEWAY_ERRORS["InvalidAccessKeyId.NotFound"]
        now = self.clock()
        error = wire.check_timestamp(call, now=now, window=self.timestamp_window)
        if error is None:
            error = wire.verify_signature(call, secret)
        if error is None:
            verdict = self.nonces.check(call.access_key_id, call.nonce, now)
            if verdict is REPLAY:
                error = wire.GATEWAY_ERRORS["SignatureNonceUsed"]
            elif verdict is FULL:
                wait = self.nonces.retry_after_ms(call.access_key_id, now)
                error = wire.gateway_error("Throttling.User", retry_after_ms=wait)
        return error

    def _fault(self, call: wire.Call, answer: Answer) -> ErrorSpec | None:
        """Apply the fault rule that decides ``call``, if one does (design §12): its
        ``Error`` is returned to be answered; a ``reset``/``stall`` is answered here (the
        action is not run); ``reset-after``/``truncate`` run the action, then the fault.
        """
        rule = self.fault_rules.decide(
            call.action,
            call.params.get("RegionId", ""),
            call.params.get("TaskId", ""),
            call.access_key_id,
            self.clock(),
        )
        if rule is None:
            return None
        answer.decision = Decision(step="fault", check=rule.name)
        if rule.latency_ms:
            answer.delay += rule.latency_ms / 1000
        if rule.error is not None:
            return rule_error(rule.error, self.profile, self.faults.retry_after_ms)
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

    def _throttle(self) -> ErrorSpec | None:
        rate = self.faults.throttle_rate
        if rate > 0 and self._chance() < rate:
            return wire.gateway_error("Throttling.User", retry_after_ms=self.faults.retry_after_ms)
        return None

    def _reply(self, call: wire.Call) -> dict[str, Any] | ErrorSpec:
        """Run an admitted call's action over the store."""
        reply = dispatch(self._context(call.access_key_id), call.action, call.params)
        if reply is None:  # authenticate() already refused unknown actions
            return wire.GATEWAY_ERRORS["InvalidAction.NotFound"]
        return reply

    def _context(self, account: str) -> ActionContext:
        """The caller's context, rebuilt only when the store or the rules changed."""
        context = self._contexts.get(account)
        if (
            context is None
            or context.store is not self.store
            or context.profile is not self.profile
            or context.policy is not self.policy
            or context.ids is not self.ids
            or context.new_task_schedule is not self.new_task_schedule
            or context.max_tasks != self.max_tasks_per_account
        ):
            context = ActionContext(
                store=self.store,
                account=account,
                profile=self.profile,
                policy=self.policy,
                ids=self.ids,
                new_task_schedule=self.new_task_schedule,
                max_tasks=self.max_tasks_per_account,
            )
            self._contexts[account] = context
        return context


_NO_RESPONSE = wire.Response(500, (), b"")  # replaced before an Answer leaves handle()
_INTERNAL = wire.GATEWAY_ERRORS["InternalError"]
#: Wire faults that happen before the action runs (nothing done).
_BEFORE_ACTION = frozenset({"reset", "stall"})
_HEALTH = _CONTROL_PREFIX + b"health"
#: Actions that write to the store (their store work runs in the writers' pool).
_WRITES = frozenset(
    {"CancelTask", "ImportImage", "ExportImage"}
)  # replaced before an Answer leaves handle()

#: A store held by another connection past its busy timeout: retryable, with a hint.
STORE_BUSY = attrs.evolve(
    wire.GATEWAY_ERRORS["ServiceUnavailable"],
    headers=(("x-acs-retry-after", "1000"), ("retry-after", "1")),
)


def _no_body(headers: Sequence[tuple[bytes, bytes]]) -> int:
    return 0


def _host_id(request: RawRequest) -> str:
    for name, value in request.headers:
        if name.lower() == b"host":
            # A host name is ASCII (IDNA); anything else is not echoed back.
            text = value.decode("ascii", "replace")
            host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
            if host and host.isascii() and host.isprintable() and len(host) <= 255:
                return host
    return wire.DEFAULT_HOST_ID
