"""The dashboard (``/_taskcancel/ui``) in a real headless Chromium, over a real ``serve``.

The browser: :mod:`_browser` (Debian's Chromium, nothing downloaded; skips only outside CI
when it is absent). Every wait polls the DOM up to a deadline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.browser import (
    NEEDS_CHROMIUM,
    console_errors,
    open_browser,
    screenshot,
    status_cell,
    until,
)

from taskcancel.testing import ServeProcess

HOSTILE = "<img src=x onerror=alert(1)>"
SEEDED = "t-dash-seeded"
REGION = "cn-hangzhou"
KEY_ID, SECRET = "testid", "testsecret"

pytestmark = [NEEDS_CHROMIUM, pytest.mark.usefixtures("no_proxy_env")]


def _task(task_id: str) -> dict[str, Any]:
    return {
        "TaskId": task_id,
        "RegionId": REGION,
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        "AccessKeyId": KEY_ID,
        "CreationTime": "2026-11-27T10:00Z",
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    directory = tmp_path_factory.mktemp("dashboard")
    world = directory / "world.json"
    world.write_text(json.dumps({"Regions": [REGION, "cn-shanghai"], "Tasks": [_task("t-dash-x")]}))
    with ServeProcess(
        ["--port", "0", "--world", str(world)], log_path=directory / "serve.log"
    ) as s:
        yield s


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    with open_browser(tmp_path / "profile") as driver:
        yield driver


def _control(served: ServeProcess, method: str, route: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, f"{served.endpoint}/_taskcancel/{route}", json=body, timeout=10)


def _has_route(served: ServeProcess, route: str) -> bool:
    return _control(served, "GET", route).status_code not in (404, 405)


def _errors(driver: Any, served: ServeProcess) -> list[str]:
    """The browser's console errors, less the page's graceful degradation on an emulator
    that lacks a route (the journal's or the fault rules' answers 404/405, by design
    shown as "not available")."""
    tolerated = tuple(
        f"{served.endpoint}/_taskcancel/{route}"
        for route in ("requests", "faults")
        if not _has_route(served, route)
    )
    return console_errors(driver, tolerated)


def _sdk_cancel(served: ServeProcess, task_id: str) -> None:
    from alibabacloud_ecs20140526 import models as ecs
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.models import Config

    config = Config(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        region_id=REGION,
        endpoint=served.netloc,
        protocol="HTTP",
    )
    answer = EcsClient(config).cancel_task(ecs.CancelTaskRequest(region_id=REGION, task_id=task_id))
    assert answer.status_code == 200


def test_the_page_shows_seeded_tasks_live_and_a_hostile_id_as_text(
    served: ServeProcess, browser: Any
) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    assert f"dashboard: {served.endpoint}/_taskcancel/ui" in served.banner
    browser.get(f"{served.endpoint}/_taskcancel/ui")
    until(browser, lambda d: status_cell(d, "t-dash-x") == "Processing", 5, "world not shown")
    assert browser.find_element(By.ID, "profile").text == "2017"
    assert browser.find_element(By.ID, "store").text == "memory"

    seeded = _control(served, "POST", "tasks", {"Tasks": [_task(SEEDED), _task(HOSTILE)]})
    assert seeded.status_code == 201, seeded.text
    until(browser, lambda d: status_cell(d, SEEDED) == "Processing", 2, "seeded task not shown")
    until(browser, lambda d: status_cell(d, HOSTILE) == "Processing", 2, "hostile id not shown")
    assert browser.find_elements(By.CSS_SELECTOR, "#tasks img") == []  # text, not markup
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018 -- reading it is what raises

    _sdk_cancel(served, SEEDED)
    until(browser, lambda d: status_cell(d, SEEDED) == "Deleted", 2, "cancel not shown")

    screenshot(browser, "dashboard.png")
    assert _errors(browser, served) == []


def test_an_sdk_cancel_appears_in_the_journal_and_opens_to_its_decision(
    served: ServeProcess, browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    if not _has_route(served, "requests"):
        pytest.skip("this emulator has no journal yet (GET /_taskcancel/requests, docs/journal.md)")
    task_id = "t-dash-journal"
    assert _control(served, "POST", "tasks", {"Tasks": [_task(task_id)]}).status_code == 201
    browser.get(f"{served.endpoint}/_taskcancel/ui")
    until(browser, lambda d: status_cell(d, task_id) == "Processing", 5, "task not shown")

    _sdk_cancel(served, task_id)

    def cancel_row(driver: Any) -> Any:
        try:
            for row in driver.find_elements(By.CSS_SELECTOR, "#journal .jrow"):
                texts = [span.text for span in row.find_elements(By.TAG_NAME, "span")]
                if texts[1] == "CancelTask" and texts[3] == task_id:
                    seq = row.get_attribute("data-seq")
                    row.click()  # the list is redrawn with the row selected: row goes stale
                    return seq
        except StaleElementReferenceException:  # redrawn under us: look again
            pass
        return None

    seq = until(browser, cancel_row, 2, "the SDK's CancelTask is not in the journal")
    until(browser, lambda d: status_cell(d, task_id) == "Deleted", 2, "status not changed")
    entry = until(
        browser,
        lambda d: d.find_element(By.CSS_SELECTOR, "#entry h3").text.startswith(f"#{seq} "),
        2,
        "the entry did not open",
    ) and browser.find_element(By.ID, "entry")
    assert entry.find_element(By.CSS_SELECTOR, "dd.step").text == "ok"
    assert entry.find_element(By.CSS_SELECTOR, "dd.rule").text.startswith("contract row ")
    params = {
        r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
        for r in entry.find_elements(By.CSS_SELECTOR, "table.params tr")
    }
    assert params["TaskId"] == task_id
    assert params.get("Signature") in (None, "***")
    screenshot(browser, "dashboard-journal.png")
    assert _errors(browser, served) == []


def test_with_a_token_the_page_asks_for_it_and_never_puts_it_in_a_url(
    tmp_path: Path, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    token = "dash-secret-token-42"
    with ServeProcess(
        ["--port", "0", "--control-token", token], log_path=tmp_path / "serve.log"
    ) as served:
        browser.get(f"{served.endpoint}/_taskcancel/ui")
        assert token not in browser.page_source
        field = until(
            browser, lambda d: d.find_element(By.ID, "token").is_displayed(), 5, "no token form"
        )
        assert field
        browser.find_element(By.ID, "token").send_keys(token)
        browser.find_element(By.CSS_SELECTOR, "#token-form button").click()
        until(browser, lambda d: d.find_element(By.ID, "control").text == "token", 5, "not let in")
        until(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#tasks tr.task"), 5, "no tasks")
        assert token not in browser.current_url
        assert token not in browser.page_source
        served.stop()
        assert token not in served.log_text()
