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
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from time import perf_counter
from typing import Any

import attrs

from .. import wire
from .._api._actions import (
    ACTIONS,
    DEFAULT_NEW_TASK_SCHEDULE,
    ActionContext,
    IdGenerator,
    dispatch_explained,
)
from .._core._catalogue import ErrorSpec, Profile, get_profile
from .._core._model import Schedule
from .._core._rules import DEFAULT_POLICY, Policy
from .._ids import RequestIds
from .._store import Clock, MemoryStore, Store, system_clock
from .._store.sqlite import is_busy
from ..worldfile._world import DEFAULT_ACCOUNTS, NO_FAULTS, Faults
from ._asgi import AsgiAdapter
from ._gate import WorldGate
from ._journal import DEFAULT_JOURNAL_SIZE, Entry, Journal, TaskFields
from ._nonces import FULL, REPLAY, NonceRegistry
from ._request import Answer, Decision, Deferred, Pending, RawRequest

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
        journal: Journal | None = None,
    ) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self.profile = get_profile(profile)
        self.policy = policy
        self.clock = clock or system_clock
        self.request_ids = request_ids or RequestIds()
        self.timestamp_window = timestamp_window
        self.faults = faults
        self.limits = limits
        self._chance = chance or random.Random().random
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
        #: The request journal (design §11); ``Journal(0)`` records nothing.
        self.journal = journal or Journal(DEFAULT_JOURNAL_SIZE, clock=self._now)
        #: The control plane's long-polls (``GET requests?WaitSeconds=``): the plane sets it.
        self.control_wait: Callable[[RawRequest, str], Answer | Deferred] | None = None

    def _now(self) -> Any:
        return self.store.clock()

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
        if isinstance(staged, Answer):
            return staged
        if isinstance(staged, Deferred):
            return wait_for(staged)
        return staged.run()

    def stage(self, request: RawRequest) -> Answer | Pending | Deferred:
        """The answer, when the store is not needed for it (refusals, health); otherwise
        the store's part as :class:`Pending` work, which a connection layer serving a
        store on disk runs in a worker thread. Never raises."""
        request_id = self.request_ids()
        target = request.target
        if target.startswith(_CONTROL_PREFIX) and self.control is not None:
            run = functools.partial(self.control, request, request_id)
            if target.startswith(_HEALTH):
                return run()
            if (
                self.control_wait is not None
                and target.startswith(_WAIT)
                and b"WaitSeconds" in target
                and request.method == "GET"
            ):
                return self.control_wait(request, request_id)
            return Pending(run, writes=request.method != "GET")
        answer = Answer(_NO_RESPONSE, request_id)
        if self.journal.enabled and not request.begun:
            request.begun = perf_counter()  # the journal's LatencyMs (ASGI, handle())
        fmt, call, refusal = self._front(request, answer)
        if call is None or refusal is not None:
            rendered = self._render(request, answer, fmt, refusal or _INTERNAL)
            if self.journal.enabled:
                self._record(request, rendered, call)
            return rendered
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
        """Parse and pass the gateway: the call to run, or the refusal to answer (with the
        call, when it parsed: the journal records what was refused)."""
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
                return fmt, parsed, refusal
            if self.faults.latency_ms > 0:
                answer.delay = self.faults.latency_ms / 1000
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
                outcome = self._reply(call, answer)
        except Exception as exc:
            if is_busy(exc):  # the store stayed locked past its busy timeout: retryable
                log.warning("store busy answering %s: %s", answer.request_id, exc)
                outcome = STORE_BUSY
                answer.decision = _STORE_BUSY_DECISION
            else:
                log.exception("internal error answering request %s", answer.request_id)
                outcome = _INTERNAL
                answer.decision = _INTERNAL_DECISION
        rendered = self._render(request, answer, fmt, outcome)
        if self.journal.enabled:
            self._record(request, rendered, call)
        return rendered

    def _record(self, request: RawRequest, answer: Answer, call: wire.Call | None) -> None:
        """Journal one ECS call, once its answer is rendered."""
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
        if self.debug or self.journal.enabled:
            answer.params = params
        return call.response_format

    def _gate(self, call: wire.Call, answer: Answer) -> ErrorSpec | None:
        """The gateway's refusal of ``call`` (authentication, throttling), if any; its
        ``Decision`` goes in ``answer``."""
        refusal = self.authenticate(call)
        if refusal is not None:
            answer.decision = _gateway_decision(refusal.code)
            return refusal
        refusal = self._throttle()
        if refusal is not None:
            answer.decision = _THROTTLE_FAULT
        return refusal

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

    def _throttle(self) -> ErrorSpec | None:
        rate = self.faults.throttle_rate
        if rate > 0 and self._chance() < rate:
            return wire.gateway_error("Throttling.User", retry_after_ms=self.faults.retry_after_ms)
        return None

    def _reply(self, call: wire.Call, answer: Answer) -> dict[str, Any] | ErrorSpec:
        """Run an admitted call's action over the store; why goes in ``answer``."""
        explained = dispatch_explained(self._context(call.access_key_id), call.action, call.params)
        if explained is None:  # authenticate() already refused unknown actions
            return wire.GATEWAY_ERRORS["InvalidAction.NotFound"]
        reply, (step, check, rule, reason, task) = explained
        answer.decision = Decision(
            step, check, rule, reason, None if task is None else TaskFields(task)
        )
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


#: The journal's ``Signature`` of each scheme.
_SCHEMES = {wire.Scheme.ACS3: "ACS3", wire.Scheme.V1: "V1"}
_WAIT = _CONTROL_PREFIX + b"requests?"
_STORE_BUSY_DECISION = Decision("store", "busy")
_INTERNAL_DECISION = Decision("store", "internal-error")
_THROTTLE_FAULT = Decision("fault", "throttle")
#: The gateway check that gives each refusal (design §11's ``Check``).
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


def wait_for(deferred: Deferred) -> Answer:
    """A :class:`Deferred`'s answer, waiting in this thread (the in-process path)."""
    answer = deferred.poll()
    if answer is not None:
        return answer
    woken = threading.Event()
    unsubscribe = deferred.subscribe(woken.set)
    try:
        due = time.monotonic() + deferred.timeout
        while (left := due - time.monotonic()) > 0:
            woken.wait(left)
            woken.clear()
            answer = deferred.poll()
            if answer is not None:
                return answer
    finally:
        unsubscribe()
    return deferred.expire()


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
