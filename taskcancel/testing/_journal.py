"""``ecs_journal``: assert on the calls the emulator received (docs/journal.md).

:class:`RequestJournal` works over any function that fetches journal entries (the JSON
objects of ``GET /_taskcancel/requests``), so it serves an in-process
:class:`~taskcancel.testing.EmulatorServer` (:meth:`RequestJournal.of_server`) and an
emulator anywhere else (:meth:`RequestJournal.of_url`) alike. A failed assertion lists
the calls that came closest -- the same action with the differing parameters marked, or
the same task under another action -- like a diff.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from ..server import Answer, Deferred, Emulator, RawRequest

__all__ = ["FILTER_NAMES", "RequestJournal", "filters_query", "journal_request"]

#: Python keyword -> the query parameter of ``GET /_taskcancel/requests``; the query
#: names themselves (``Action=...``) are accepted as they are.
FILTER_NAMES: Mapping[str, str] = {
    "action": "Action",
    "code": "Code",
    "task_id": "TaskId",
    "region_id": "RegionId",
    "access_key_id": "AccessKeyId",
    "kind": "Kind",
    "since": "Since",
    "limit": "Limit",
    "wait_seconds": "WaitSeconds",
}
_NEAREST = 5

Entry = Mapping[str, Any]


def filters_query(filters: Mapping[str, object]) -> str:
    """The query string for ``filters`` (``action="CancelTask"`` or ``Action="CancelTask"``);
    a value of ``None`` is left out. Unknown names are passed on for the server to refuse."""
    pairs = []
    for name, value in filters.items():
        if value is None:
            continue
        pairs.append((FILTER_NAMES.get(name, name), str(value)))
    return urlencode(pairs)


def journal_request(app: Emulator, filters: Mapping[str, object]) -> list[dict[str, Any]]:
    """``GET /_taskcancel/requests`` with ``filters``, in-process (a long-poll waits in
    this thread); ``ValueError`` with the route's message for a bad filter."""
    query = filters_query(filters).encode()
    target = b"/_taskcancel/requests" + (b"?" + query if query else b"")
    answer = app.handle(RawRequest("GET", target, [(b"host", b"127.0.0.1")], b""))
    if isinstance(answer, Deferred):
        answer = _settle(answer)
    document = json.loads(answer.response.body)
    if answer.response.status != 200:
        raise ValueError(f"{document['Code']}: {document['Message']}")
    entries: list[dict[str, Any]] = document["Requests"]
    return entries


def _settle(deferred: Deferred) -> Answer:
    """A long-poll's answer, waiting in this thread until it is ready or expires."""
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


def _matches(entry: Entry, params: Mapping[str, object]) -> bool:
    sent = entry.get("Params") or {}
    return all(name in sent and sent[name] == str(value) for name, value in params.items())


def _differences(entry: Entry, params: Mapping[str, object]) -> list[str]:
    sent = entry.get("Params") or {}
    ignored = [str(name) for name in entry.get("Ignored") or ()]
    marks = []
    for name, value in params.items():
        if name not in sent:
            alike = [n for n in ignored if n.lower() == name.lower()]
            hint = f" (sent {alike[0]!r} instead, which nothing reads)" if alike else ""
            marks.append(f"      - {name}: expected {str(value)!r}, not sent{hint}")
        elif sent[name] != str(value):
            marks.append(f"      - {name}: expected {str(value)!r}, sent {sent[name]!r}")
    return marks


def _summary(entry: Entry) -> str:
    decision = entry.get("Decision") or {}
    why = f"{decision.get('Step')}:{decision.get('Check')}" if decision else "-"
    return (
        f"#{entry.get('Seq')} {entry.get('Action')} RegionId={entry.get('RegionId')!r} "
        f"TaskId={entry.get('TaskId')!r} -> {entry.get('Status')} {entry.get('Code')} ({why})"
    )


class RequestJournal:
    """The emulator's request journal, for assertions in tests.

    ``fetch(**filters)`` returns the entries (oldest first); ``clear()`` forgets them and
    returns how many there were.
    """

    def __init__(
        self, fetch: Callable[..., Sequence[Entry]], clear: Callable[[], int] | None = None
    ) -> None:
        self._fetch = fetch
        self._clear = clear

    @classmethod
    def of_server(cls, server: Any) -> RequestJournal:
        """The journal of an :class:`~taskcancel.testing.EmulatorServer`."""
        return cls(server.requests, server.ops.journal.clear)

    @classmethod
    def of_url(cls, endpoint: str, *, token: str | None = None) -> RequestJournal:
        """The journal of the emulator at ``endpoint`` (its control plane, over HTTP)."""
        import httpx

        base = endpoint.rstrip("/") + "/_taskcancel/requests"
        headers = {"Authorization": f"Bearer {token}"} if token else {}

        def fetch(**filters: object) -> list[Entry]:
            url = base + ("?" + filters_query(filters) if filters else "")
            response = httpx.get(url, headers=headers, trust_env=False, timeout=40)
            _raise_for(response)
            requests: list[Entry] = response.json()["Requests"]
            return requests

        def clear() -> int:
            response = httpx.delete(base, headers=headers, trust_env=False, timeout=10)
            _raise_for(response)
            cleared: int = response.json()["Cleared"]
            return cleared

        return cls(fetch, clear)

    def entries(self, **filters: object) -> list[Entry]:
        """The entries matching ``filters`` (``action=``, ``task_id=``, ``code=``, ...)."""
        return list(self._fetch(**filters))

    def clear(self) -> int:
        """Forget every entry (``Seq`` keeps counting); returns how many there were."""
        if self._clear is None:
            raise TypeError("this journal was given no way to clear it")
        return self._clear()

    def calls(self, action: str, **params: object) -> list[Entry]:
        """The ``action`` calls whose parameters include ``params`` (compared as text)."""
        return [e for e in self.entries(action=action) if _matches(e, params)]

    def assert_called(self, action: str, *, times: int | None = None, **params: object) -> None:
        """``action`` was called with ``params`` (at least once, or exactly ``times``)."""
        __tracebackhide__ = True  # pytest shows the test's line and the message, not ours
        entries = self.entries(kind="ecs")
        hits = [e for e in entries if e.get("Action") == action and _matches(e, params)]
        if (times is None and hits) or (times is not None and len(hits) == times):
            return
        wanted = f"{action}({_shown(params)})"
        expected = "at least once" if times is None else f"{times} time(s)"
        lines = [f"expected {wanted} {expected}, it was called {len(hits)} time(s)"]
        if hits:
            lines.append("  matching calls:")
            lines += [f"    {_summary(e)}" for e in hits[:_NEAREST]]
        else:
            lines += self._near_misses(entries, action, params)
        raise AssertionError("\n".join(lines))

    def assert_not_called(self, action: str, **params: object) -> None:
        """``action`` was never called with ``params``."""
        __tracebackhide__ = True
        hits = self.calls(action, **params)
        if hits:
            lines = [f"expected no {action}({_shown(params)}), got {len(hits)}:"]
            lines += [f"    {_summary(e)}" for e in hits[:_NEAREST]]
            raise AssertionError("\n".join(lines))

    def _near_misses(
        self, entries: Sequence[Entry], action: str, params: Mapping[str, object]
    ) -> list[str]:
        same_action = [e for e in entries if e.get("Action") == action]
        same_action.sort(key=lambda e: len(_differences(e, params)))
        lines = []
        if same_action:
            lines.append(f"  closest {action} calls (differences marked):")
            for entry in same_action[:_NEAREST]:
                lines.append(f"    {_summary(entry)}")
                lines += _differences(entry, params)
        task_id = params.get("TaskId")
        if task_id is not None:
            others = [
                e for e in entries if e.get("Action") != action and e.get("TaskId") == str(task_id)
            ]
            if others:
                lines.append("  the same task under another action:")
                lines += [f"    {_summary(e)}" for e in others[:_NEAREST]]
        if not lines:
            lines.append(f"  no {action} calls were recorded ({len(entries)} call(s) in all)")
        return lines


def _shown(params: Mapping[str, object]) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def _raise_for(response: Any) -> None:
    if response.status_code >= 400:
        try:
            body = response.json()
            detail = f"{body['Code']}: {body['Message']}"
        except (ValueError, KeyError, TypeError):
            detail = response.text[:200]
        raise RuntimeError(f"the journal answered HTTP {response.status_code}: {detail}")
