"""The dashboard: ``GET /_taskcancel/ui`` and its assets under ``ui/...`` (documented in
docs/control-plane.md, "The dashboard").

One static page (``ui/index.html``, ``ui/app.js``, ``ui/style.css``, package data; no
build step, nothing from another origin). The page holds no secret: it reads the control
plane's JSON routes (``health``, ``state``, ``faults``, ``requests``) with ``fetch`` and,
when the plane has a token, sends it as ``Authorization: Bearer`` from a form field kept
in ``sessionStorage`` -- never in a URL, a log line or the page's source. So the page
itself is served wherever the plane is on (it is 404 where the plane is off) and is
refused only under a foreign ``Host`` on the open plane (DNS rebinding), like every route.

Every answer carries a Content-Security-Policy that allows scripts and styles from this
origin only (no inline script, no event-handler attribute, no other origin) and fetches to
this origin only; the page only GETs, so a cross-site page cannot act through it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Collection
from importlib import resources

from .. import wire
from ._request import Answer

__all__ = ["ASSETS", "CSP", "HEADERS", "is_ui", "serve"]

#: The route of the page, below the control plane's prefix.
ROUTE = "ui"

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
#: Headers on every answer under ``ui`` (the page, an asset, a refusal).
HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
)

#: Served file name -> content type.
ASSETS: dict[str, str] = {
    "index.html": "text/html;charset=utf-8",
    "app.js": "text/javascript;charset=utf-8",
    "style.css": "text/css;charset=utf-8",
}

_POLICY_MARK = "__TASKCANCEL_CANCELLABLE__"
_files: dict[str, bytes] = {}


def _asset(name: str) -> bytes:
    """An asset's bytes, read from the package once."""
    data = _files.get(name)
    if data is None:
        data = resources.files(__package__).joinpath("ui", name).read_bytes()
        _files[name] = data
    return data


def is_ui(route: str) -> bool:
    """Whether ``route`` (the path below ``/_taskcancel/``) is the page or one of its assets."""
    return route == ROUTE or route.startswith(ROUTE + "/")


def serve(
    method: str,
    route: str,
    request_id: str,
    *,
    refusal: tuple[int, str, str] | None = None,
    cancellable: tuple[Collection[str], Collection[str]] = ((), ()),
) -> Answer:
    """The answer to ``method`` on ``route`` (see :func:`is_ui`).

    ``refusal`` is the control plane's ``(status, code, message)`` when it refuses the
    caller (plane off: 404; foreign Host: 403); ``cancellable`` the emulator's policy
    (task actions, task statuses CancelTask accepts), which the page needs to show
    ``SupportCancel`` -- public facts, written into a ``<meta>`` of the page.
    """
    name = route[len(ROUTE) :].lstrip("/") or "index.html"
    if refusal is not None:
        status, code, message = refusal
    elif method not in ("GET", "HEAD"):
        status, code, message = 405, "MethodNotAllowed", f"{method} is not allowed on {ROUTE}"
    elif name not in ASSETS:
        status, code, message = 404, "NotFound", f"no dashboard file {name!r}"
    else:
        body = _asset(name)
        if name == "index.html":
            actions, statuses = cancellable
            policy = json.dumps({"Actions": sorted(actions), "Statuses": sorted(statuses)})
            body = body.replace(_POLICY_MARK.encode(), html.escape(policy).encode())
        return _answer(method, 200, ASSETS[name], body, request_id, route, "OK")
    document = json.dumps({"Code": code, "Message": message}).encode()
    return _answer(
        method, status, "application/json;charset=utf-8", document, request_id, route, code
    )


def _answer(
    method: str, status: int, content_type: str, body: bytes, request_id: str, route: str, code: str
) -> Answer:
    headers = (
        ("content-type", content_type),
        ("content-length", str(len(body))),
        ("x-acs-request-id", request_id),
        *HEADERS,
    )
    sent = b"" if method == "HEAD" else body
    answer = Answer(wire.Response(status, headers, sent), request_id, code=code)
    answer.route = f"{method} {route}"
    return answer
