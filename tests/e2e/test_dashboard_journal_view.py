"""The dashboard's journal and fault-rule views, in a real browser, against the control
plane's documented JSON (docs/journal.md, docs/faults.md) served by a stand-in.

The page is served by :func:`taskcancel.server._ui.serve` as the emulator serves it; the
``health``, ``state``, ``faults`` and ``requests`` routes answer the shapes the docs
document, from data the test controls: 10,000 journal entries (the journal's default size),
a long-poll that answers as soon as an entry is added, fault rules with their counts.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from support.browser import (
    NEEDS_CHROMIUM,
    console_errors,
    open_browser,
    screenshot,
    status_cell,
    until,
)

from taskcancel.server._ui import serve

pytestmark = [NEEDS_CHROMIUM, pytest.mark.usefixtures("no_proxy_env")]

HOSTILE = "<img src=x onerror=alert(1)>"
ENTRIES = 10_000


def _entry(seq: int, task_id: str = "", **extra: Any) -> dict[str, Any]:
    task_id = task_id or f"t-j{seq:05d}"
    entry = {
        "Seq": seq,
        "Time": "2026-12-01T10:00:00Z",
        "RequestId": f"REQ-{seq}",
        "Kind": "ecs",
        "Method": "POST",
        "Path": "/",
        "Action": "CancelTask",
        "Signature": "ACS3",
        "AccessKeyId": "testid",
        "RegionId": "cn-hangzhou",
        "TaskId": task_id,
        "Params": {"Action": "CancelTask", "RegionId": "cn-hangzhou", "TaskId": task_id},
        "Status": 200,
        "Code": "OK",
        "LatencyMs": 0.4,
        "Ignored": [],
        "Decision": {"Step": "ok", "Check": "accepted", "Rule": 7, "Reason": None, "Task": None},
    }
    entry.update(extra)
    return entry


class StandIn:
    """The control plane's read routes over data the test changes."""

    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.closing = False
        self.entries = [_entry(seq) for seq in range(1, ENTRIES + 1)]
        self.tasks = [
            {"TaskId": "t-view-1", "RegionId": "cn-hangzhou", "TaskAction": "ImportImage",
             "TaskStatus": "Processing", "AccessKeyId": "testid"},
        ]  # fmt: skip
        self.faults = {
            "ThrottleRate": 0.0, "RetryAfterMs": 1000, "LatencyMs": 0.0,
            "Rules": [{"Name": "first-two-cancels-throttled", "Match": {"Action": "CancelTask"},
                       "When": {"First": 2}, "Error": "Throttling.User",
                       "Matched": 5, "Fired": 2}],
        }  # fmt: skip

    def add(self, entry: dict[str, Any]) -> None:
        with self.changed:
            self.entries.append(entry)
            self.changed.notify_all()

    def answer(self, route: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        if route == "health":
            return 200, {"Status": "ready", "Version": "0.1.0", "Profile": "2017",
                         "Store": "memory", "Clock": "fake"}  # fmt: skip
        if route == "state":
            return 200, {"Regions": ["cn-hangzhou"], "Accounts": [], "Tasks": self.tasks,
                         "Faults": self.faults, "Now": "2026-12-01T10:00:00Z"}  # fmt: skip
        if route == "faults":
            return 200, self.faults
        if route == "requests":
            since = int(query.get("Since", ["0"])[0])
            wait = min(float(query.get("WaitSeconds", ["0"])[0]), 30.0)
            with self.changed:
                self.changed.wait_for(
                    lambda: self.closing or self.entries[-1]["Seq"] > since, timeout=wait
                )
                fresh = [e for e in self.entries if e["Seq"] > since]
            if "Limit" in query:  # after Since: the first Limit; without: the newest Limit
                limit = int(query["Limit"][0])
                fresh = fresh[:limit] if "Since" in query else fresh[-limit:]
            return 200, {"Requests": fresh, "Dropped": 0}
        return 404, {"Code": "NotFound", "Message": route}

    def close(self) -> None:
        with self.changed:
            self.closing = True
            self.changed.notify_all()


@pytest.fixture
def stand_in() -> Iterator[tuple[StandIn, str]]:
    data = StandIn()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            route = parts.path.removeprefix("/_taskcancel/")
            if route == "ui" or route.startswith("ui/"):
                policy = (["ImportImage"], ["Processing"])
                response = serve("GET", route, "REQ-UI", cancellable=policy).response
                status, headers, body = response.status, response.headers, response.body
            else:
                status, document = data.answer(route, parse_qs(parts.query))
                body = json.dumps(document).encode()
                headers = (("content-type", "application/json"),)
            self.send_response(status)
            for name, value in headers:
                if name != "content-length":
                    self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the browser went away (a long-poll)
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    # A short poll: shutdown() waits for serve_forever's next poll (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield data, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        data.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with open_browser(tmp_path / "profile") as driver:
        yield driver


_ROWS = "return [...document.querySelectorAll('#journal .jrow')].map(r => r.dataset.seq);"


def test_ten_thousand_entries_render_only_the_visible_rows(
    stand_in: tuple[StandIn, str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    _, endpoint = stand_in
    browser.get(f"{endpoint}/_taskcancel/ui")
    until(
        browser,
        lambda d: d.find_element(By.ID, "journal-count").text == str(ENTRIES),
        5,
        "journal not loaded",
    )
    rows = browser.execute_script(_ROWS)
    assert 10 <= len(rows) < 100  # a window, not 10,000 nodes
    assert rows[0] == str(ENTRIES)  # newest first
    browser.execute_script(
        "const j = document.getElementById('journal'); j.scrollTop = j.scrollHeight;"
    )
    until(browser, lambda d: "1" in d.execute_script(_ROWS), 2, "oldest entry not reachable")
    assert len(browser.execute_script(_ROWS)) < 100
    matched = browser.find_element(By.CSS_SELECTOR, "#faults tr.rule td.matched").text
    fired = browser.find_element(By.CSS_SELECTOR, "#faults tr.rule td.fired").text
    assert (matched, fired) == ("5", "2")
    assert console_errors(browser) == []


def test_a_new_entry_shows_at_once_and_opens_to_its_decision_as_text(
    stand_in: tuple[StandIn, str], browser: Any
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    data, endpoint = stand_in
    browser.get(f"{endpoint}/_taskcancel/ui")
    until(browser, lambda d: d.execute_script(_ROWS)[:1] == [str(ENTRIES)], 5, "no journal")

    seq = ENTRIES + 1
    decision = {"Step": "rules", "Check": "INCORRECT_TASK_STATUS", "Rule": 3,
                "Reason": "INCORRECT_TASK_STATUS",
                "Task": {"TaskId": HOSTILE, "TaskStatus": "Finished"}}  # fmt: skip
    params = {"Action": "CancelTask", "RegionId": "cn-hangzhou", "TaskId": HOSTILE,
              "TaskID": "t-typo", "Signature": "***"}  # fmt: skip
    data.add(
        _entry(
            seq,
            HOSTILE,
            Params=params,
            Ignored=["TaskID"],
            Status=403,
            Code="IncorrectTaskStatus",
            Decision=decision,
        )
    )
    until(browser, lambda d: d.execute_script(_ROWS)[:1] == [str(seq)], 1, "not live")
    browser.find_element(By.CSS_SELECTOR, f'#journal .jrow[data-seq="{seq}"]').click()
    entry = browser.find_element(By.ID, "entry")
    assert entry.find_element(By.CSS_SELECTOR, "dd.rule").text == "contract row 3"
    assert entry.find_element(By.CSS_SELECTOR, "dd.step").text == "rules"
    ignored = entry.find_elements(By.CSS_SELECTOR, "table.params tr.ignored td")
    assert ignored[0].text.startswith("TaskID") and ignored[1].text == "t-typo"
    values = {
        row.find_elements(By.TAG_NAME, "td")[0].text: row.find_elements(By.TAG_NAME, "td")[1].text
        for row in entry.find_elements(By.CSS_SELECTOR, "table.params tr")
    }
    assert values["TaskId"] == HOSTILE and values["Signature"] == "***"
    assert HOSTILE in browser.find_element(By.ID, "journal").text
    assert browser.find_elements(By.CSS_SELECTOR, "#journal img, #entry img") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 -- reading it is what raises

    # A control-plane change is an entry too: the page refreshes the world on it.
    data.tasks = [*data.tasks, {**data.tasks[0], "TaskId": "t-view-2"}]
    data.add(_entry(seq + 1, Kind="control", Method="POST", Path="/_taskcancel/tasks",
                    Action=None, Params=None, Decision=None, Status=201))  # fmt: skip
    until(browser, lambda d: status_cell(d, "t-view-2") == "Processing", 1, "world not refreshed")
    screenshot(browser, "dashboard-journal-view.png")
    assert console_errors(browser) == []


def test_a_burst_of_calls_shows_the_newest_and_counts_the_rest(
    stand_in: tuple[StandIn, str], browser: Any
) -> None:
    """Under load the page takes the newest entries a round, not every one (each entry
    costs the emulator about half a cancel to send): the ones it skipped are counted."""
    from selenium.webdriver.common.by import By

    data, endpoint = stand_in
    browser.get(f"{endpoint}/_taskcancel/ui")
    until(browser, lambda d: d.execute_script(_ROWS)[:1] == [str(ENTRIES)], 5, "no journal")
    with data.changed:
        data.entries.extend(_entry(seq) for seq in range(ENTRIES + 1, ENTRIES + 1001))
        data.changed.notify_all()
    until(browser, lambda d: d.execute_script(_ROWS)[:1] == [str(ENTRIES + 1000)], 2, "stale")
    count = browser.find_element(By.ID, "journal-count").text
    assert "800 not fetched" in count, count
    assert console_errors(browser) == []
