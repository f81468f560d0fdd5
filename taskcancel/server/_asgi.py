"""The emulator as an ASGI app: for embedding in another ASGI server, and for
``httpx.ASGITransport`` tests. A thin adapter that wraps the same sans-IO app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from .. import wire
from ._request import Answer, Deferred, Pending, RawRequest

if TYPE_CHECKING:
    from ._app import Emulator

__all__ = ["AsgiApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class AsgiApp:
    """``await AsgiApp(app)(scope, receive, send)`` answers like the connection layer does."""

    def __init__(self, app: Emulator) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await _lifespan(receive, send)
            return
        if kind != "http":
            return  # websocket and anything else: not ours; returning closes it
        app = self.app
        body = await _read_body(receive, app.settings.limits.max_body_bytes)
        if body is None:  # the client went away first: a request it abandoned is not run
            return
        if isinstance(body, int):
            answer = app.refusal(wire.gateway_error("RequestTooLarge", what="body", limit=body))
        else:
            target = scope.get("raw_path") or scope.get("path", "/").encode("latin-1")
            query = scope.get("query_string", b"")
            request = RawRequest(
                scope.get("method", ""),
                target + b"?" + query if query else target,
                list(scope.get("headers") or []),
                body,
            )
            staged = app.stage(request)
            if isinstance(staged, Pending):
                if staged.offload:  # the store's part in a worker thread, the rest here
                    loop = asyncio.get_running_loop()
                    staged = await loop.run_in_executor(None, staged.run)
                else:
                    staged = staged.run()
            answer = await _settle(staged) if isinstance(staged, Deferred) else staged
            if answer.delay > 0:
                await asyncio.sleep(answer.delay)
        response = answer.response
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


async def _settle(deferred: Deferred) -> Answer:
    """Wait, on the loop, for a long-poll's answer: woken by its event, or expired."""
    answer = deferred.poll()
    if answer is not None:
        return answer
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()

    def wake() -> None:  # from any thread
        loop.call_soon_threadsafe(woken.set)

    unsubscribe = deferred.subscribe(wake)
    try:
        deadline = loop.time() + deferred.timeout
        while (left := deadline - loop.time()) > 0:
            try:
                await asyncio.wait_for(woken.wait(), left)
            except TimeoutError:
                break
            woken.clear()
            answer = deferred.poll()
            if answer is not None:
                return answer
    finally:
        unsubscribe()
    return deferred.expire()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive, limit: int) -> bytes | int | None:
    """The whole body; ``limit`` if it grows past it; ``None`` if the client left first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return limit
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
