"""The request journal (docs/journal.md): what the emulator was sent and why it answered so.

:class:`Journal` keeps the newest ``size`` entries (``0``: off), numbers them ``Seq`` 1, 2,
... (never reused while the server runs, :meth:`Journal.clear` included) and counts the
entries it let go (``Dropped``). Appends come from the loop and from worker threads: one
lock guards the ring. Long-polls subscribe a wake callback (:meth:`Journal.subscribe`);
every append calls the callbacks, which the connection layer moves onto its loop -- a
waiter holds no thread.

Recording is cheap: an :class:`Entry` keeps references (the request's parameter mapping,
the app's :class:`~._request.Decision`) and the JSON dict is built only when it is read
(:meth:`Entry.to_json`). What an entry keeps is bounded: a request larger than
:data:`SMALL_REQUEST` has each parameter value cut to :data:`MAX_VALUE` characters and
at most :data:`MAX_PARAMS_CHARS` characters of parameters in all, and the entry says
``"Truncated": true``. Secrets never leave an entry: ``Signature``, ``SecurityToken`` and
any parameter whose name says secret, password or token read ``"***"``; the control
token and an ACS3 ``Authorization`` header are never recorded (they are headers, and no
header is).

:class:`JournalFile` appends each entry as one JSON line from a thread of its own, in
batches; :meth:`JournalFile.close` writes what is left and flushes.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any
from urllib.parse import parse_qsl

from .._core._model import Task
from .._core._text import printable
from .._core._time import format_millis
from ..api._actions import ignored_parameters
from ..wire._encoding import decode_form
from ..worldfile import task_to_json
from ._control_body import Refusal
from ._log import is_secret
from ._request import Decision

log = logging.getLogger("taskcancel.server")

__all__ = [
    "DEFAULT_JOURNAL_SIZE",
    "FILTERS",
    "MAX_PARAMS_CHARS",
    "MAX_VALUE",
    "MAX_WAIT_SECONDS",
    "SMALL_REQUEST",
    "Entry",
    "Filters",
    "Journal",
    "JournalFile",
    "TaskFields",
    "parse_filters",
]

DEFAULT_JOURNAL_SIZE = 10_000
#: A request whose target and body together are at most this long is kept as parsed.
SMALL_REQUEST = 4096
#: The longest parameter value (and path, key id, ...) an entry keeps, in characters.
MAX_VALUE = 256
#: The most parameter characters (names and values) one entry keeps.
MAX_PARAMS_CHARS = 4096
#: The longest ``WaitSeconds`` a long-poll may ask for.
MAX_WAIT_SECONDS = 30
#: The query parameters ``GET /_taskcancel/requests`` reads.
FILTERS = (
    "Action",
    "Code",
    "TaskId",
    "RegionId",
    "AccessKeyId",
    "Kind",
    "Since",
    "Limit",
    "WaitSeconds",
)
_REDACTED = "***"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE]


class TaskFields(Mapping[str, Any]):
    """A task in world-file fields, converted on first read (recording stays cheap)."""

    __slots__ = ("_fields", "_task")

    def __init__(self, task: Task) -> None:
        self._task = task
        self._fields: dict[str, Any] | None = None

    def _get(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = task_to_json(self._task)
        return self._fields

    def __getitem__(self, key: str) -> Any:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


class Entry:
    """One journal entry, as recorded; :meth:`to_json` is the design's JSON object."""

    __slots__ = (
        "access_key_id",
        "action",
        "code",
        "decision",
        "kind",
        "latency_ms",
        "method",
        "params",
        "path",
        "raw",
        "region_id",
        "request_id",
        "seq",
        "signature",
        "status",
        "task_id",
        "time",
        "truncated",
    )

    def __init__(
        self,
        *,
        kind: str,
        request_id: str,
        method: str,
        path: str,
        status: int,
        code: str,
        latency_ms: float,
        action: str | None = None,
        signature: str | None = None,
        access_key_id: str | None = None,
        region_id: str | None = None,
        task_id: str | None = None,
        params: Mapping[str, str] | None = None,
        decision: Decision | None = None,
        truncated: bool = False,
    ) -> None:
        self.seq = 0
        #: When it was recorded: the emulator's clock, or seconds since the epoch under
        #: the system clock (a float costs less to read on every call than a datetime).
        self.time: datetime | float | None = None
        self.kind, self.request_id, self.method = kind, request_id, method
        self.path: str | None = path  # None: the path of ``raw``
        self.status, self.code, self.latency_ms = status, code, latency_ms
        self.action, self.signature, self.access_key_id = action, signature, access_key_id
        self.region_id, self.task_id, self.params = region_id, task_id, params
        self.decision, self.truncated = decision, truncated
        #: A small request's target as sent: its parameters are decoded again when read
        #: (one bytes object the request already made, instead of a dict of strings).
        self.raw: bytes | None = None

    @classmethod
    def ecs(
        cls,
        *,
        request_id: str,
        method: str,
        target: bytes,
        body_size: int,
        status: int,
        code: str,
        latency_ms: float,
        action: str | None,
        signature: str | None,
        access_key_id: str | None,
        params: Mapping[str, str] | None,
        decision: Decision | None,
    ) -> Entry:
        """An ECS call's entry, bounded: a large request keeps only a cut of its parameters."""
        if (
            params is not None
            and body_size == 0
            and len(target) <= SMALL_REQUEST
            and (action is None or len(action) <= MAX_VALUE)
            and len(access_key_id or "") <= MAX_VALUE
        ):
            # The common case, on every call: keep the target as sent (its parameters and
            # path are decoded again when read) and set the slots directly.
            entry = _new(cls)
            entry.seq, entry.time, entry.kind, entry.request_id = 0, None, "ecs", request_id
            entry.method, entry.path, entry.status, entry.code = method, None, status, code
            entry.latency_ms, entry.action, entry.signature = latency_ms, action, signature
            entry.access_key_id, entry.params, entry.decision = access_key_id, None, decision
            entry.region_id, entry.task_id = params.get("RegionId"), params.get("TaskId")
            entry.truncated, entry.raw = False, target
            return entry
        path = target.partition(b"?")[0].decode("latin-1")
        truncated = False
        if params is not None and (
            len(target) + body_size > SMALL_REQUEST or len(params) > MAX_PARAMS
        ):
            params, truncated = _bounded(params)
        if len(path) > MAX_VALUE:
            path, truncated = path[:MAX_VALUE], True
        region_id = task_id = None
        raw = None
        if params is not None:
            region_id = params.get("RegionId")
            task_id = params.get("TaskId")
            if not truncated and body_size == 0:
                raw, params = target, None  # every parameter is in the query
        if action is not None and len(action) > MAX_VALUE:
            action, truncated = action[:MAX_VALUE], True
        if access_key_id is not None and len(access_key_id) > MAX_VALUE:
            access_key_id, truncated = access_key_id[:MAX_VALUE], True
        entry = cls(
            kind="ecs",
            request_id=request_id,
            method=method,
            path=path,
            status=status,
            code=code,
            latency_ms=latency_ms,
            action=action,
            signature=signature,
            access_key_id=access_key_id,
            region_id=region_id,
            task_id=task_id,
            params=params,
            decision=decision,
            truncated=truncated,
        )
        entry.raw = raw
        return entry

    def _raw_path(self) -> str:
        return (self.raw or b"").partition(b"?")[0].decode("latin-1")

    def sent(self) -> Mapping[str, str]:
        """The parameters as decoded (secrets included: :meth:`to_json` hides them)."""
        if self.raw is not None:
            return dict(decode_form(self.raw.partition(b"?")[2]) or ())
        return self.params or {}

    def to_json(self) -> dict[str, Any]:
        """The entry as docs/journal.md shows it (secrets as ``"***"``)."""
        data: dict[str, Any] = {
            "Seq": self.seq,
            "Time": _time_text(self.time),
            "RequestId": self.request_id,
            "Kind": self.kind,
            "Method": self.method,
            "Path": self.path if self.path is not None else self._raw_path(),
        }
        params: Mapping[str, str] = {}
        if self.kind == "ecs":
            params = self.sent()
            data.update(
                Action=self.action,
                Signature=self.signature,
                AccessKeyId=self.access_key_id,
                RegionId=self.region_id,
                TaskId=self.task_id,
                Params={k: (_REDACTED if is_secret(k) else v) for k, v in params.items()},
            )
        data.update(Status=self.status, Code=self.code, LatencyMs=round(self.latency_ms, 3))
        if self.kind == "ecs":
            data["Ignored"] = ignored_parameters(self.action or "", params.keys())
            decision = self.decision
            data["Decision"] = None if decision is None else _decision_json(decision)
        if self.truncated:
            data["Truncated"] = True
        return data


_new = object.__new__
#: Parameters a large request's entry keeps at most, and what each costs beyond its text.
MAX_PARAMS = 64
_PARAM_OVERHEAD = 32


def _bounded(params: Mapping[str, str]) -> tuple[dict[str, str], bool]:
    """At most :data:`MAX_PARAMS` parameters and :data:`MAX_PARAMS_CHARS` characters, each
    parameter also charged :data:`_PARAM_OVERHEAD` for what keeping it costs (thousands of
    one-character parameters would otherwise keep hundreds of KB an entry)."""
    kept: dict[str, str] = {}
    budget = MAX_PARAMS_CHARS
    truncated = False
    for name, value in params.items():
        name_kept, value_kept = _cut(name), _cut(value)
        cost = len(name_kept) + len(value_kept) + _PARAM_OVERHEAD
        if cost > budget or len(kept) >= MAX_PARAMS:
            truncated = True
            break
        truncated = truncated or name_kept is not name or value_kept is not value
        kept[name_kept] = value_kept
        budget -= cost
    return kept, truncated


def _decision_json(decision: Decision) -> dict[str, Any]:
    task = decision.task
    return {
        "Step": decision.step,
        "Check": decision.check,
        "Rule": decision.rule,
        "Reason": decision.reason,
        "Task": None if task is None else dict(task),
    }


def _time_text(value: datetime | float | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, float):  # the system clock, read as a number when recorded
        value = datetime.fromtimestamp(value, UTC)
    return format_millis(value)


@dataclass(frozen=True, slots=True)
class Filters:
    """Which entries a reader wants (every field ``None``: all of them)."""

    action: str | None = None
    code: str | None = None
    task_id: str | None = None
    region_id: str | None = None
    access_key_id: str | None = None
    kind: str | None = None
    since: int | None = None
    limit: int | None = None
    wait_seconds: float = 0.0

    def matches(self, entry: Entry) -> bool:
        return (
            entry.seq > (self.since or 0)
            and (self.action is None or entry.action == self.action)
            and (self.code is None or entry.code == self.code)
            and (self.task_id is None or entry.task_id == self.task_id)
            and (self.region_id is None or entry.region_id == self.region_id)
            and (self.access_key_id is None or entry.access_key_id == self.access_key_id)
            and (self.kind is None or entry.kind == self.kind)
        )


def _integer(name: str, text: str, low: int, high: int) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise Refusal(400, "InvalidParameter", f"{name}: must be a whole number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise Refusal(400, "InvalidParameter", f"{name}: must be from {low} to {high}, got {value}")
    return value


def parse_filters(query: str | bytes) -> Filters:
    """The :class:`Filters` of a query string; raises :class:`Refusal` (400
    ``InvalidParameter``) naming an unknown, repeated or out-of-range parameter."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    pairs = parse_qsl(query, keep_blank_values=True, errors="replace")
    seen: dict[str, str] = {}
    for name, value in pairs:
        if name not in FILTERS:
            shown = name if len(name) <= 64 else name[:64] + "..."
            raise Refusal(
                400,
                "InvalidParameter",
                f"{shown!r}: unknown filter; known: {', '.join(FILTERS)}",
            )
        if name in seen:
            raise Refusal(400, "InvalidParameter", f"{name}: given more than once")
        seen[name] = value
    kind = seen.get("Kind")
    if kind is not None and kind not in ("ecs", "control"):
        raise Refusal(400, "InvalidParameter", f"Kind: must be ecs or control, got {kind!r}")
    since = _integer("Since", seen["Since"], 0, 2**62) if "Since" in seen else None
    limit = _integer("Limit", seen["Limit"], 1, 10**9) if "Limit" in seen else None
    wait = 0
    if "WaitSeconds" in seen:
        wait = _integer("WaitSeconds", seen["WaitSeconds"], 0, MAX_WAIT_SECONDS)
    return Filters(
        action=seen.get("Action"),
        code=seen.get("Code"),
        task_id=seen.get("TaskId"),
        region_id=seen.get("RegionId"),
        access_key_id=seen.get("AccessKeyId"),
        kind=kind,
        since=since,
        limit=limit,
        wait_seconds=float(wait),
    )


class Journal:
    """The newest ``size`` entries; ``size=0`` keeps none.

    ``clock`` stamps each entry's ``Time`` (the emulator's clock); ``sink``, when given,
    receives every entry after it is numbered (a :class:`JournalFile`), whatever ``size``.
    ``enabled`` is false when there is neither a ring nor a sink: nothing is recorded.
    """

    def __init__(
        self,
        size: int = DEFAULT_JOURNAL_SIZE,
        *,
        clock: Callable[[], datetime] | None = None,
        sink: JournalFile | None = None,
    ) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ValueError(f"journal size must be a whole number >= 0, got {size!r}")
        self.size = size
        self.enabled = size > 0 or sink is not None
        # No clock: the system's, read as time.time() (entries convert it when read).
        self._clock: Callable[[], datetime | float] = clock or time.time
        self._sink = sink
        self._entries: deque[Entry] = deque(maxlen=size or 1)
        self._lock = threading.Lock()
        self._seq = 0
        self._dropped = 0
        self._wakers: list[Callable[[], None]] = []

    @property
    def seq(self) -> int:
        """The last ``Seq`` given (0: none yet)."""
        return self._seq

    @property
    def dropped(self) -> int:
        """How many entries fell out of the ring since the last clear."""
        return self._dropped

    def append(self, entry: Entry) -> None:
        """Number, stamp and keep ``entry`` (dropping the oldest when full); wake waiters."""
        if not self.enabled:
            return
        now = self._clock()
        with self._lock:
            self._seq += 1
            entry.seq = self._seq
            entry.time = now
            if self.size:
                entries = self._entries
                if len(entries) == self.size:
                    self._dropped += 1
                entries.append(entry)
            wakers = self._wakers
        if self._sink is not None:
            self._sink(entry)
        for wake in wakers:
            wake()

    def clear(self) -> int:
        """Forget every entry (``Seq`` keeps counting); returns how many there were."""
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            self._dropped = 0
        return count

    def entries(self, filters: Filters = Filters()) -> list[Entry]:
        """The matching entries, oldest first: after ``Since``, the first ``Limit``;
        without it, the newest ``Limit``."""
        since = filters.since
        with self._lock:
            if since is None:
                snapshot = list(self._entries)
            else:
                # Seq is increasing: the newer entries are the last ones; take them from
                # the end (a long-poll's check costs what arrived, not the whole journal).
                snapshot = []
                for entry in reversed(self._entries):
                    if entry.seq <= since:
                        break
                    snapshot.append(entry)
                snapshot.reverse()
        found = [entry for entry in snapshot if filters.matches(entry)]
        if filters.limit is not None:
            found = found[: filters.limit] if filters.since is not None else found[-filters.limit :]
        return found

    def find(self, request_id: str) -> Entry | None:
        """The entry of ``request_id``, or ``None``."""
        with self._lock:
            snapshot = list(self._entries)
        for entry in reversed(snapshot):
            if entry.request_id == request_id:
                return entry
        return None

    def answer(self, filters: Filters = Filters()) -> dict[str, Any]:
        """``GET /_taskcancel/requests``' document."""
        return {
            "Requests": [entry.to_json() for entry in self.entries(filters)],
            "Dropped": self._dropped,
        }

    def close(self) -> None:
        """Write out and close the file sink, if any (a clean stop loses no entry)."""
        if self._sink is not None:
            self._sink.close()

    def subscribe(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call ``wake()`` (from any thread) after each append until the returned function
        is called."""
        with self._lock:
            self._wakers = [*self._wakers, wake]  # copy-on-write: append reads it unlocked

        def unsubscribe() -> None:
            with self._lock:
                wakers = list(self._wakers)
                if wake in wakers:
                    wakers.remove(wake)
                self._wakers = wakers

        return unsubscribe


#: Entries waiting for the journal file at most.
MAX_QUEUED = 100_000


class JournalFile:
    """Appends each entry as one JSON line to ``path``, from a thread of its own.

    :meth:`__call__` only queues (the loop never waits for the disk); the thread writes
    what has queued in batches. :meth:`close` writes the rest, flushes and closes: after
    it returns, the file holds every entry given before. If the file cannot be written
    (a full disk, say), one warning is logged and the file is given up: nothing queues
    any more. At most :data:`MAX_QUEUED` entries wait; past it the newest are counted
    and dropped (a disk slower than the calls), and the count is logged.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close)
        self._queue: list[Entry] = []
        self._ready = threading.Condition()
        self._closing = False
        self.failed = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="taskcancel-journal", daemon=True)
        self._thread.start()

    def __call__(self, entry: Entry) -> None:
        with self._ready:
            if self.failed:
                return
            if len(self._queue) >= MAX_QUEUED:
                self.dropped += 1
                return
            self._queue.append(entry)
            if len(self._queue) == 1:
                self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                batch, self._queue = self._queue, []
                closing = self._closing
            if batch:
                lines = [json.dumps(entry.to_json(), ensure_ascii=False) + "\n" for entry in batch]
                try:
                    self._file.write("".join(lines))
                    self._file.flush()
                except OSError as exc:
                    with self._ready:
                        self.failed, self._queue = True, []
                    log.warning(
                        "journal file %s: cannot write (%s): no more entries go to it",
                        printable(self.path),
                        exc.strerror or exc,
                    )
                    return
            if closing and not batch:
                return

    def close(self) -> None:
        """Write every queued entry, flush and close the file. Idempotent."""
        with self._ready:
            if self._closing:
                return
            self._closing = True
            self._ready.notify()
        self._thread.join()
        with contextlib.suppress(OSError):  # a file that failed to write may fail to close
            self._file.close()
        if self.dropped:
            log.warning(
                "journal file %s: %d entries dropped: the disk did not keep up",
                printable(self.path),
                self.dropped,
            )
