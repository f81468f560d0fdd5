"""The values that cross between the connection layer and the app: one request, one answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import wire

__all__ = ["Answer", "Decision", "Deferred", "Pending", "RawRequest", "WireFault"]

#: What a fault rule may do to the connection instead of answering normally
#: (docs/faults.md): ``reset`` closes it before the action (nothing done), ``reset-after``
#: closes it after the action ran (done, no answer), ``stall`` sends nothing for
#: ``Answer.stall_seconds`` then closes, ``truncate`` sends part of the answer then closes.
WireFault = str


@dataclass(slots=True)
class RawRequest:
    """One complete HTTP request as received: nothing decoded yet.

    ``target`` is the request-target as sent (path and query); ``started`` is the
    connection layer's clock reading (``loop.time()``) when the request was due to start,
    for its deadline; ``begun`` is ``time.perf_counter()`` then, for its logged latency
    (uvloop's loop clock counts whole milliseconds).
    """

    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    keep_alive: bool = True
    started: float = 0.0
    http_version: str = "1.1"
    begun: float = 0.0


class Decision(NamedTuple):
    """Why a call got its answer (docs/journal.md, the journal's ``Decision``).

    ``step``: ``"gateway"`` | ``"fault"`` | ``"rules"`` | ``"store"`` | ``"ok"``; ``check``
    names what decided (``"signature"``, ``"timestamp"``, ``"nonce"``, ``"throttle"``, a
    fault rule's ``Name``, a ``Reason`` name such as ``"REGION_NOT_FOUND"``); ``rule`` is
    the contract table's row 1-7 for a CancelTask decision; ``task`` the task as the rules
    saw it (world-file fields) or ``None``. A named tuple: one is made for every call.
    """

    step: str
    check: str
    rule: int | None = None
    reason: str | None = None
    task: Mapping[str, Any] | None = None


@dataclass(slots=True)
class Answer:
    """The app's answer, with what the request log says about it.

    ``delay`` is injected latency (seconds) the connection layer waits before writing.
    ``params`` is filled only when the log asks for them (debug level).
    """

    response: wire.Response
    request_id: str
    code: str = "OK"
    action: str = "-"
    region_id: str = ""
    task_id: str = ""
    access_key_id: str = ""
    delay: float = 0.0
    params: Mapping[str, str] | None = None
    route: str = ""  # the control plane's path, for its log lines
    fault: WireFault | None = None  # None: write ``response`` as usual
    stall_seconds: float = 0.0
    decision: Decision | None = None  # why (the journal); None for refusals before parsing


@dataclass(slots=True)
class Pending:
    """The part of answering that needs the store: ``run()`` gives the :class:`Answer`
    (or, for a long-poll, the :class:`Deferred` one).

    ``writes`` says whether it writes (a store on disk serialises writers: they get a
    pool of their own, so writers waiting for a lock never hold up readers).
    ``offload`` says whether it may take long or block (a store on disk, a control-plane
    change or state of a whole world): the connection layer then runs it in a worker
    thread, so the loop goes on answering; otherwise it runs at once, on the loop.
    """

    run: Callable[[], Answer | Deferred]
    writes: bool
    offload: bool = False


@dataclass(slots=True)
class Deferred:
    """An answer that waits for something to happen (a journal long-poll) holding no thread.

    The connection layer calls ``poll()``: an :class:`Answer` when ready, else ``None``.
    It then calls ``subscribe(wake)``, which returns an unsubscribe function; ``wake`` may
    be called from any thread whenever the answer may have become ready (the connection
    layer moves it onto its loop and polls again). After ``timeout`` seconds, or when the
    connection is going away, ``expire()`` gives the final answer.
    """

    poll: Callable[[], Answer | None]
    expire: Callable[[], Answer]
    subscribe: Callable[[Callable[[], None]], Callable[[], None]]
    timeout: float
