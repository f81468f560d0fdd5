"""The emulator: a plain ASGI app that answers ECS RPC calls like the real service.

Each request goes: parse (:mod:`taskcancel.wire`) -> gateway checks (action, access
key, timestamp, signature, nonce, throttling) -> the shared action handlers over a
store -> render. No web framework; uvicorn runs it (``taskcancel serve``, or
:class:`taskcancel.testing.EmulatorServer`). Every request, however malformed, is
answered with an Aliyun-shaped error envelope, never a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import timedelta
from typing import Any

import attrs

from . import wire
from ._actions import (
    ACTIONS,
    DEFAULT_NEW_TASK_SCHEDULE,
    ActionContext,
    IdGenerator,
    dispatch,
)
from ._catalogue import ErrorSpec, Profile, get_profile
from ._client import uuid_request_ids
from ._model import Schedule
from ._rules import DEFAULT_POLICY, Policy
from ._store import Clock, Store, system_clock
from ._uvicorn import uvicorn_config
from ._world import DEFAULT_ACCOUNTS, NO_FAULTS, Faults

__all__ = ["Emulator", "bind_socket", "create_app", "uvicorn_config"]

log = logging.getLogger("taskcancel.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Emulator:
    """The ASGI application. Build it with :func:`create_app`.

    Accounts, faults and the store can be changed while it runs (the testing kit does);
    each request reads them once.
    """

    def __init__(
        self,
        store: Store,
        *,
        accounts: Mapping[str, str] = DEFAULT_ACCOUNTS,
        profile: str | Profile = "2017",
        policy: Policy = DEFAULT_POLICY,
        clock: Clock | None = None,
        request_ids: Callable[[], str] = uuid_request_ids,
        timestamp_window: timedelta = timedelta(minutes=15),
        faults: Faults = NO_FAULTS,
        limits: wire.Limits = wire.DEFAULT_LIMITS,
        chance: Callable[[], float] | None = None,
        nonce_capacity: int = 100_000,
        ids: Callable[[str], str] | None = None,
        new_task_schedule: Schedule = DEFAULT_NEW_TASK_SCHEDULE,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        max_tasks_per_account: int = 10_000,
    ) -> None:
        self.store = store
        self.accounts = dict(accounts)
        self.profile = get_profile(profile)
        self.policy = policy
        self.clock = clock or system_clock
        self.request_ids = request_ids
        self.timestamp_window = timestamp_window
        self.faults = faults
        self.limits = limits
        self._chance = chance or random.Random().random
        self.ids = ids or IdGenerator()
        self._sleep = sleep
        self.max_tasks_per_account = max_tasks_per_account
        self._contexts: dict[str, ActionContext] = {}
        self.new_task_schedule = new_task_schedule
        # A request may be stamped up to one window ahead and is then good for two:
        # remember nonces that long, or a replay slips through.
        self.nonces = wire.NonceRegistry(window=2 * timestamp_window, max_entries=nonce_capacity)

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

    def add_account(self, access_key_id: str, access_key_secret: str) -> None:
        """Accept another AccessKey pair; its tasks are invisible to other accounts."""
        if not access_key_id or not access_key_secret:
            raise ValueError("access key id and secret must be non-empty")
        self.accounts[access_key_id] = access_key_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
        elif kind == "http":
            await self._http(scope, receive, send)
        # websocket and anything else: not ours; returning closes the connection.

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request_id = self.request_ids()
        headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
        action, fmt = "-", "JSON"
        outcome: wire.GatewayError | _Success
        try:
            try:
                body = await _read_body(receive, self.limits.max_body_bytes)
            except _ClientGone:  # it gave up before sending the whole request: do nothing
                log.info("- (client disconnected) - %.2fms", _ms_since(started))
                return
            parsed: wire.Call | wire.GatewayError
            if body is None:
                parsed = wire.too_large("body", self.limits.max_body_bytes)
            else:
                parsed = wire.parse_request(
                    scope.get("method", ""),
                    scope.get("raw_path") or scope.get("path", "/"),
                    scope.get("query_string", b""),
                    headers,
                    body,
                    limits=self.limits,
                )
            if isinstance(parsed, wire.Call):
                # Only known actions are logged by name: the rest is caller-chosen text.
                action = parsed.action if parsed.action in ACTIONS else "(unknown action)"
                fmt = parsed.response_format
                refusal = self._gate(parsed)
                if refusal is None:
                    latency_ms = self.faults.latency_ms
                    if latency_ms > 0:
                        await self._sleep(latency_ms / 1000)
                    outcome = self._reply(parsed)
                else:
                    outcome = refusal
            else:
                outcome = parsed
        except Exception:  # the last line of defence: never a traceback on the wire
            log.exception("internal error answering request %s", request_id)
            outcome = wire.internal_error(response_format=fmt)
        if isinstance(outcome, wire.GatewayError):
            code = outcome.code
            response = wire.render_gateway_error(
                outcome, request_id=request_id, host_id=_host_id(headers)
            )
        else:
            code = "OK"
            response = wire.render_success(
                action, outcome.body, request_id=request_id, response_format=outcome.format
            )
        await send(
            {
                "type": "http.response.start",
                "status": response.status,
                "headers": [
                    (k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers
                ],
            }
        )
        await send({"type": "http.response.body", "body": response.body})
        if log.isEnabledFor(logging.INFO):
            log.info("%s %s %d %.2fms", action, code, response.status, _ms_since(started))

    def _gate(self, call: wire.Call) -> wire.GatewayError | None:
        """The gateway's refusal of ``call`` (authentication, throttling), if any."""
        error = self.authenticate(call) or self._throttle()
        if error is not None:
            return dataclasses.replace(error, response_format=call.response_format)
        return None

    def _reply(self, call: wire.Call) -> wire.GatewayError | _Success:
        """Run an admitted call's action over the store."""
        fmt = call.response_format
        reply = dispatch(self._context(call.access_key_id), call.action, call.params)
        if reply is None:  # authenticate() already refused unknown actions
            return wire.invalid_action(response_format=fmt)
        if isinstance(reply, ErrorSpec):
            return wire.GatewayError(reply.code, reply.http_status, reply.message, (), fmt)
        return _Success(reply, fmt)

    def authenticate(self, call: wire.Call) -> wire.GatewayError | None:
        """The gateway checks, in order: action/version, key, timestamp, signature, nonce."""
        error = wire.check_action(call, ACTIONS)
        if error is not None:
            return error
        secret = self.accounts.get(call.access_key_id)
        if secret is None:
            return wire.access_key_not_found()
        now = self.clock()
        error = wire.check_timestamp(call, now=now, window=self.timestamp_window)
        if error is None:
            error = wire.verify_signature(call, secret)
        if error is None and self.nonces.seen(call.access_key_id, call.nonce, now):
            error = wire.nonce_used()
        return error

    def _throttle(self) -> wire.GatewayError | None:
        rate = self.faults.throttle_rate
        if rate > 0 and self._chance() < rate:
            return wire.throttled(self.faults.retry_after_ms)
        return None


def create_app(store: Store, **options: Any) -> Emulator:
    """The emulator's ASGI app over ``store``; options as :class:`Emulator`."""
    return Emulator(store, **options)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket; port 0 picks a free one (read it with ``getsockname``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so,
    # and without it each response waits ~40 ms for delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


class _ClientGone(Exception):
    """The client disconnected before its request had arrived in full."""


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` once it grows past ``limit`` bytes.

    Raises :class:`_ClientGone` if the client disconnects first: a request it abandoned
    is not carried out.
    """
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")  # the usual case: one message
        return body if len(body) <= limit else None
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] != "http.request":  # http.disconnect
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
        message = await receive()
    return b"".join(chunks)


def _host_id(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name.lower() == b"host":
            text = value.decode("latin-1")
            host = text.rsplit(":", 1)[0] if text.count(":") == 1 else text
            if host and host.isprintable() and len(host) <= 255:
                return host
    return wire.DEFAULT_HOST_ID


@attrs.frozen
class _Success:
    body: dict[str, Any]
    format: str
