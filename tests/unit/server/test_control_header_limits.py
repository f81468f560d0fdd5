"""The header limits hold for the control plane's routes as for ECS calls."""

from __future__ import annotations

import json

import pytest

from taskcancel.server import Answer, RawRequest, create_app

ROUTES = [b"/_taskcancel/health", b"/_taskcancel/ui", b"/_taskcancel/state"]


@pytest.mark.parametrize(
    ("headers", "what"),
    [
        ([(b"x-h%d" % i, b"v") for i in range(101)], "header count"),
        ([(b"x-big", b"v" * 17_000)], "header bytes"),
    ],
)
@pytest.mark.parametrize(
    "route", [b"/_taskcancel/health", b"/_taskcancel/ui", b"/_taskcancel/state"]
)
def test_too_many_or_too_large_headers_are_refused_on_the_control_plane(
    headers: list[tuple[bytes, bytes]], what: str, route: bytes
) -> None:
    request = RawRequest("GET", route, [(b"host", b"127.0.0.1:8080"), *headers], b"")
    answer = create_app().handle(request)
    assert isinstance(answer, Answer)
    body = json.loads(answer.response.body)
    assert answer.response.status == 413 and body["Code"] == "RequestTooLarge"
    assert what in body["Message"]


def test_a_usual_control_request_is_not_refused() -> None:
    request = RawRequest("GET", b"/_taskcancel/health", [(b"host", b"127.0.0.1:8080")], b"")
    answer = create_app().handle(request)
    assert isinstance(answer, Answer) and answer.response.status == 200
