"""``taskcancel ui``: opens the dashboard when a browser is there, else prints its URL."""

from __future__ import annotations

import webbrowser

import pytest

from taskcancel.cli import main


class _Browser:
    def __init__(self, works: bool) -> None:
        self.works = works
        self.opened: list[str] = []

    def open(self, url: str) -> bool:
        self.opened.append(url)
        return self.works


def test_it_opens_the_page_in_the_browser(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _Browser(works=True)
    monkeypatch.setattr(webbrowser, "get", lambda: browser)
    assert main(["ui", "--endpoint", "http://127.0.0.1:9000/"]) == 0
    assert browser.opened == ["http://127.0.0.1:9000/_taskcancel/ui"]
    assert capsys.readouterr().out == "opened http://127.0.0.1:9000/_taskcancel/ui\n"


@pytest.mark.parametrize("works", [False, None], ids=["browser-fails", "no-browser"])
def test_without_a_browser_it_prints_the_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], works: bool | None
) -> None:
    def get() -> _Browser:
        if works is None:
            raise webbrowser.Error("could not locate runnable browser")
        return _Browser(works)

    monkeypatch.setattr(webbrowser, "get", get)
    monkeypatch.setenv("TASKCANCEL_ENDPOINT", "http://[::1]:8081")
    assert main(["ui"]) == 0
    assert capsys.readouterr().out == "http://[::1]:8081/_taskcancel/ui\n"


def test_print_never_opens_a_browser(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = _Browser(works=True)
    monkeypatch.setattr(webbrowser, "get", lambda: browser)
    assert main(["ui", "--print", "--endpoint", "http://localhost:8080"]) == 0
    assert browser.opened == []
    assert capsys.readouterr().out == "http://localhost:8080/_taskcancel/ui\n"


@pytest.mark.parametrize(
    "endpoint", ["localhost:8080", "ftp://host", "http://h:1/?token=x", "http://u:p@h:1"]
)
def test_a_bad_endpoint_is_a_usage_error_naming_it(
    endpoint: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(webbrowser, "get", lambda: _Browser(works=True))
    assert main(["ui", "--endpoint", endpoint]) == 2
    assert f"--endpoint: {endpoint!r}" in capsys.readouterr().err


def test_without_an_endpoint_it_uses_the_control_commands_default(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TASKCANCEL_ENDPOINT", raising=False)
    assert main(["ui", "--print"]) == 0
    assert capsys.readouterr().out == "http://127.0.0.1:8080/_taskcancel/ui\n"
