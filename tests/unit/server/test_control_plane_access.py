"""Who may use the control plane, through the app as ``taskcancel serve`` wires it.

Open on a loopback address; elsewhere off unless ``--control-token``; with a token every
route but ``health`` needs ``Authorization: Bearer TOKEN`` (403 otherwise) and the ECS path
does not care; ``--no-control`` leaves only ``health`` (every other route 404). Under the
system clock ``POST clock`` is a 409 that says to start with ``--clock fake``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.control import HZ, ROUTES, TOKEN, Served, serving

# ------------------------------------------------------------------------- with a token


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("token")
    with serving(directory, "--control-token", TOKEN, token=TOKEN) as served:
        yield served


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
def test_a_missing_or_wrong_token_is_403(
    with_token: Served, method: str, route: str, body: Any, authorization: str | None
) -> None:
    before = with_token.state()
    headers = {} if authorization is None else {"Authorization": authorization}
    error = with_token.refused(method, route, body, headers=headers, status=403)
    assert error["Code"] == "Forbidden"
    assert "Authorization" in error["Message"] and TOKEN not in error["Message"]
    assert with_token.state() == before


@pytest.mark.parametrize(("method", "route", "body"), ROUTES[:-1])
def test_the_right_token_opens_every_route(
    with_token: Served, method: str, route: str, body: Any
) -> None:
    with_token.ok("POST", "reset")
    response = with_token.control(method, route, body)
    assert response.status_code in (200, 201), response.text
    assert with_token.control(
        "GET", "state", headers={"authorization": f"bearer {TOKEN}"}
    ).is_success


def test_health_needs_no_token(with_token: Served) -> None:
    assert with_token.control("GET", "health", headers={}).json()["Status"] == "ready"
    assert with_token.control("HEAD", "health", headers={}).status_code == 200


@pytest.mark.parametrize("scheme", ["acs3", "v1"])
def test_the_ecs_path_is_unaffected_by_the_token(with_token: Served, scheme: str) -> None:
    with_token.ok("POST", "reset")
    # No bearer token anywhere: ACS3's own Authorization header carries its signature.
    assert with_token.cancel(HZ, "t-run", scheme=scheme) == "OK"
    assert with_token.cancel(HZ, "t-run", scheme=scheme) == "IncorrectTaskStatus"


def test_two_authorization_headers_are_refused(with_token: Served) -> None:
    response = with_token.http.get(
        "/_taskcancel/state",
        headers=[("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {TOKEN}")],
    )
    assert response.status_code == 403


# ------------------------------------------------------------------------- --no-control


@pytest.fixture(scope="module")
def no_control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving(tmp_path_factory.mktemp("no-control"), "--no-control") as served:
        yield served


@pytest.mark.parametrize(("method", "route", "body"), ROUTES)
def test_no_control_leaves_only_health(
    no_control: Served, method: str, route: str, body: Any
) -> None:
    error = no_control.refused(method, route, body, status=404)
    assert error["Code"] == "NotFound" and "--no-control" in error["Message"]
    assert no_control.ok("GET", "health")["Status"] == "ready"
    assert no_control.cancel(HZ, "t-export") in ("OK", "IncorrectTaskStatus")


# ------------------------------------------------------------------------- system clock


def test_the_clock_route_under_the_system_clock_is_409(tmp_path: Path) -> None:
    with serving(tmp_path, clock="system") as served:
        assert served.ok("GET", "health")["Clock"] == "system"
        before = served.state()["Now"]
        for body in ({"AdvanceSeconds": 90}, {"Now": "2099-01-01T00:00:00Z"}):
            error = served.refused("POST", "clock", body, status=409)
            assert error["Code"] == "Conflict"
            assert "--clock fake" in error["Message"], error
        assert served.state()["Now"] >= before  # the real clock: not moved to 2099
        assert served.state()["Now"] < "2099"
        # a state read back keeps working under the system clock (its Now is ignored)
        served.ok("PUT", "world", served.state())
        assert served.ok("POST", "reset") == {"Status": "reset"}
