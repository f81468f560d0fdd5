"""The dashboard's route (``/_taskcancel/ui``), driven through ``Emulator.handle``.

Served wherever the control plane is on (open on loopback, or with a token: the page holds
no secret and authenticates its own fetches), 404 where it is off; every answer carries a
Content-Security-Policy that allows no inline script and no other origin.
"""

from __future__ import annotations

import json
import re

import pytest

from taskcancel._store import MemoryStore
from taskcancel.server import Emulator, Settings, build
from taskcancel.server._request import Answer, RawRequest
from taskcancel.server._ui import ASSETS, serve
from taskcancel.worldfile import WorldSpec

TOKEN = "ui-unit-secret-token"


def _app(*, enabled: bool = True, token: str | None = None) -> Emulator:
    settings = Settings(control=None if enabled else False, control_token=token)
    start = WorldSpec(accounts={"testid": "testsecret"})
    return build(settings, MemoryStore([]), start, loopback=True).app


def _get(
    app: Emulator, target: str, *headers: tuple[bytes, bytes], method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    request = RawRequest(method, target.encode(), [(b"host", b"127.0.0.1:8080"), *headers], b"")
    answer = app.handle(request)
    assert isinstance(answer, Answer)  # nothing here waits
    response = answer.response
    return response.status, dict(response.headers), response.body


def test_the_page_and_its_assets_are_served_with_their_content_types() -> None:
    app = _app()
    for target, name in [
        ("/_taskcancel/ui", "index.html"),
        ("/_taskcancel/ui/", "index.html"),
        ("/_taskcancel/ui/app.js", "app.js"),
        ("/_taskcancel/ui/style.css", "style.css"),
    ]:
        status, headers, body = _get(app, target)
        assert (status, headers["content-type"]) == (200, ASSETS[name]), target
        assert headers["content-length"] == str(len(body)) and body


def test_every_answer_carries_the_security_headers() -> None:
    app = _app()
    for target in ("/_taskcancel/ui", "/_taskcancel/ui/app.js", "/_taskcancel/ui/missing.js"):
        _, headers, _ = _get(app, target)
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "http" not in csp  # no inline code, no origin
        assert "frame-ancestors 'none'" in csp and "form-action 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_the_page_has_no_inline_script_style_or_handler() -> None:
    _, _, body = _get(_app(), "/_taskcancel/ui")
    page = body.decode()
    assert re.findall(r"<script\b[^>]*>", page) == ['<script src="/_taskcancel/ui/app.js" defer>']
    assert "<style" not in page and " style=" not in page
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from another origin


def test_the_app_script_never_writes_markup() -> None:
    _, _, body = _get(_app(), "/_taskcancel/ui/app.js")
    script = body.decode()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script, sink


def test_the_page_carries_the_cancel_policy_escaped() -> None:
    _, _, body = _get(_app(), "/_taskcancel/ui")
    found = re.search(rb'name="taskcancel-cancellable" content="([^"]*)"', body)
    assert found is not None
    policy = json.loads(found.group(1).decode().replace("&quot;", '"'))
    assert policy == {"Actions": ["ExportImage", "ImportImage"], "Statuses": ["Processing"]}


def test_with_a_token_the_page_is_served_without_it_and_holds_no_secret() -> None:
    app = _app(token=TOKEN)
    for target in ("/_taskcancel/ui", "/_taskcancel/ui/app.js", "/_taskcancel/ui/style.css"):
        status, _, body = _get(app, target)
        assert status == 200 and TOKEN.encode() not in body
    status, _, _ = _get(app, "/_taskcancel/state")
    assert status == 403  # the data still needs the token; the page sends it from a form
    status, _, _ = _get(app, "/_taskcancel/state", (b"authorization", f"Bearer {TOKEN}".encode()))
    assert status == 200


def test_the_route_is_404_when_the_control_plane_is_off() -> None:
    app = _app(enabled=False)
    for target in ("/_taskcancel/ui", "/_taskcancel/ui/app.js"):
        status, headers, body = _get(app, target)
        assert status == 404 and json.loads(body)["Code"] == "NotFound"
        assert "content-security-policy" in headers


def test_a_foreign_host_is_refused_on_the_open_plane() -> None:
    app = _app()
    request = RawRequest("GET", b"/_taskcancel/ui", [(b"host", b"rebind.evil.example")], b"")
    answer = app.handle(request)
    assert isinstance(answer, Answer) and answer.response.status == 403


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_the_page_is_read_only(method: str) -> None:
    status, _, body = _get(_app(), "/_taskcancel/ui", method=method)
    assert status == 405 and json.loads(body)["Code"] == "MethodNotAllowed"


def test_head_answers_the_headers_without_a_body() -> None:
    status, headers, body = _get(_app(), "/_taskcancel/ui", method="HEAD")
    assert (status, body) == (200, b"") and int(headers["content-length"]) > 0


def test_an_unknown_file_or_a_path_outside_the_assets_is_404() -> None:
    for route in ("ui/missing.js", "ui/../_ui.py", "ui/ui/index.html"):
        answer = serve("GET", route, "req-1")
        assert answer.response.status == 404, route
