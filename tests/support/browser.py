"""Headless Debian Chromium for the dashboard's browser tests, driven by selenium.

Nothing is downloaded: the browser's and the driver's paths are given, so selenium-manager
never runs. Outside CI the tests skip when Chromium is absent (:data:`NEEDS_CHROMIUM`);
in CI (``CI`` set) they run, and fail without it. Waits poll the DOM up to a deadline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

NEEDS_CHROMIUM = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()) and not os.environ.get("CI"),
    reason=(
        "not in CI and Chromium is absent (/usr/bin/chromium, /usr/bin/chromedriver): "
        "apt-get install chromium chromium-driver to run the dashboard's browser tests"
    ),
)

T = TypeVar("T")


@contextlib.contextmanager
def open_browser(profile: Path) -> Iterator[Any]:
    """A headless Chromium with a fresh profile at ``profile``, its console log kept."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))
    try:
        yield driver
    finally:
        driver.quit()


def until(driver: Any, what: Callable[[Any], T], seconds: float, message: str) -> T:
    """Poll ``what(driver)`` until it is truthy or ``seconds`` pass."""
    from selenium.webdriver.support.ui import WebDriverWait

    result: T = WebDriverWait(driver, seconds, poll_frequency=0.05).until(what, message)
    return result


_STATUS = """
for (const row of document.querySelectorAll("#tasks tr.task")) {
  if (row.dataset.taskId === arguments[0]) return row.querySelector("td.status").textContent;
}
return "";
"""


def status_cell(driver: Any, task_id: str) -> str:
    """The status the page shows for ``task_id`` ("" when not shown), read in one script
    (the table is redrawn when the world changes: element handles would go stale)."""
    return str(driver.execute_script(_STATUS, task_id))


def screenshot(driver: Any, name: str) -> Path:
    """Save a PNG of the page in ``$TASKCANCEL_ARTIFACTS`` (default ``artifacts/``)."""
    folder = Path(os.environ.get("TASKCANCEL_ARTIFACTS") or "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    assert driver.save_screenshot(str(path)), f"no screenshot written to {path}"
    return path


def console_errors(driver: Any, tolerated: tuple[str, ...] = ()) -> list[str]:
    """The browser console's errors (CSP violations included), less any naming a URL
    in ``tolerated``."""
    return [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(url in entry["message"] for url in tolerated)
    ]
