"""What a hostile caller can make the journal keep, cost and lose: bounded, cheap, loud."""

from __future__ import annotations

import json
import logging
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from taskcancel import MemoryStore
from taskcancel.server import Answer, Deferred, Emulator, RawRequest, Settings, build
from taskcancel.server._journal import Entry, Filters, Journal, JournalFile, parse_filters
from taskcancel.server._log import redacted
from taskcancel.worldfile import WorldSpec

HOST = [(b"host", b"127.0.0.1:8080")]


def make_app(size: int = 100) -> Emulator:
    store = MemoryStore(regions=["cn-hangzhou"])
    start = WorldSpec(regions=store.regions(), accounts={"testid": "testsecret"})
    return build(Settings(journal_size=size), store, start).app


def control(app: Emulator, method: str, target: str) -> tuple[int, Any]:
    answer = app.handle(RawRequest(method, target.encode(), list(HOST), b""))
    assert isinstance(answer, Answer)
    return answer.response.status, json.loads(answer.response.body)


def _entry(params: dict[str, str], body_size: int) -> Entry:
    return Entry.ecs(
        request_id="r",
        method="POST",
        target=b"/",
        body_size=body_size,
        status=400,
        code="SignatureDoesNotMatch",
        latency_ms=1.0,
        action="CancelTask",
        signature="V1",
        access_key_id="k",
        params=params,
        decision=None,
    )


@pytest.mark.parametrize("body_size", [60_000, 3_000])
def test_thousands_of_tiny_parameters_keep_a_bounded_entry(body_size: int) -> None:
    params = {chr(0x4E00 + i): "" for i in range(3900)}
    journal = Journal(1000)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(100):
            journal.append(_entry(params, body_size))
        per_entry = (tracemalloc.get_traced_memory()[0] - before) / 100
    finally:
        tracemalloc.stop()
    assert per_entry < 8_000  # was ~460 KB with a 60 KB body
    shown = journal.entries()[-1].to_json()
    assert shown["Truncated"] is True and len(shown["Params"]) <= 64
    assert len(shown["Ignored"]) <= 64


def test_a_long_poll_that_finds_nothing_expires_empty_without_rescanning() -> None:
    app = make_app(size=1000)
    for _ in range(50):
        control(app, "POST", "/_taskcancel/reset")
    target = b"/_taskcancel/requests?Action=CancelTask&WaitSeconds=5"
    deferred = app.handle(RawRequest("GET", target, list(HOST), b""))
    assert isinstance(deferred, Deferred)
    # Only entries newer than the ones already checked are looked at from here on.
    scanned: list[int] = []
    entries = app.journal.entries

    def counting(filters: Filters) -> list[Entry]:
        found = entries(filters)
        scanned.append(len(found))
        return found

    app.journal.entries = counting  # type: ignore[method-assign, assignment]
    assert deferred.poll() is None and scanned == [0]
    expired = deferred.expire()
    assert scanned == [0]  # nothing scanned to say nothing was found
    assert b'"Requests": []' in expired.response.body


def test_delete_with_filters_is_refused_naming_them() -> None:
    app = make_app()
    status, body = control(app, "DELETE", "/_taskcancel/requests?Action=CancelTask")
    assert status == 400 and body["Message"].startswith("Action:")
    assert parse_filters(b"") is not None


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a full disk)")
def test_a_journal_file_that_cannot_be_written_warns_once_and_stops_queueing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = JournalFile("/dev/full")  # every write: ENOSPC, as on a full disk
    journal = Journal(1, sink=sink)
    with caplog.at_level(logging.WARNING, logger="taskcancel.server"):
        journal.append(_entry({}, 0))
        sink._thread.join(timeout=10)
        for _ in range(1000):
            journal.append(_entry({}, 0))
        sink.close()
    assert sink.failed and not sink._queue
    assert len([r for r in caplog.records if "cannot write" in r.getMessage()]) == 1


def test_the_debug_log_hides_what_the_journal_hides() -> None:
    params = {"Password": "p", "ClientToken": "t", "MySecretKey": "s", "TaskId": "t-1"}
    assert redacted(params) == {
        "Password": "***",
        "ClientToken": "***",
        "MySecretKey": "***",
        "TaskId": "t-1",
    }
