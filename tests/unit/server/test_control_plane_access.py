"""Who may use the control plane, over real HTTP against real ``taskcancel serve`` processes.

Open on a loopback address; elsewhere off unless ``--control-token``; with a token every
route but ``health`` needs ``Authorization: Bearer TOKEN`` (403 otherwise) and the ECS path
does not care; ``--no-control`` leaves only ``health`` (every other route 404). Under the
system clock ``POST clock`` is a 409 that says to start with ``--clock fake``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _control_kit import HZ, Served, serving

TOKEN = "s3cret-token"

#: Every control route with a body it would accept (a 2xx when the plane is open).
ROUTES: list[tuple[str, str, Any]] = [
    ("GET", "state", None),
    ("PUT", "world", {"Regions": [HZ], "Tasks": []}),
    ("POST", "reset", None),
    ("POST", "tasks", {"Tasks": []}),
    ("PATCH", "tasks/cn-hangzhou/t-run", {"CancelFails": False}),
    ("PUT", "faults", {}),
    ("POST", "clock", {"AdvanceSeconds": 1}),
    ("GET", "no-such-route", None),
]


def banner_line(served: Served) -> str:
    [line] = [line for line in served.served.banner if line.startswith("control plane: ")]
    return line


def on_loopback(served: Served) -> Served:
    """The same server, called through 127.0.0.1 (it may be bound to 0.0.0.0)."""
    served.http.base_url = httpx.URL(f"http://127.0.0.1:{served.served.port}")
    return served


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


def test_the_banner_says_a_token_is_needed(with_token: Served) -> None:
    assert banner_line(with_token) == (
        f"control plane: {with_token.endpoint}/_taskcancel/ (needs Authorization: Bearer TOKEN)"
    )


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


def test_no_control_banner(no_control: Served) -> None:
    assert banner_line(no_control) == "control plane: off (--no-control)"


# ---------------------------------------------------------------- a non-loopback address


def test_off_loopback_without_a_token_the_plane_is_off(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0") as served:
        assert banner_line(served) == (
            "control plane: off (not a loopback address; give --control-token to turn it on)"
        )
        on_loopback(served)
        for method, route, body in ROUTES:
            error = served.refused(method, route, body, status=404)
            assert "--control-token" in error["Message"], error
        assert served.ok("GET", "health")["Status"] == "ready"
        assert served.cancel(HZ, "t-run") == "OK"  # the ECS path is served as ever


def test_off_loopback_a_token_turns_the_plane_on(tmp_path: Path) -> None:
    with serving(tmp_path, "--host", "0.0.0.0", "--control-token", TOKEN, token=TOKEN) as served:
        assert "(needs Authorization: Bearer TOKEN)" in banner_line(served)
        on_loopback(served)
        assert served.ok("POST", "reset") == {"Status": "reset"}
        served.refused("GET", "state", headers={}, status=403)
        served.ok("PATCH", "tasks/cn-hangzhou/t-run", {"TaskStatus": "Finished"})
        assert served.cancel(HZ, "t-run") == "IncorrectTaskStatus"


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


# ------------------------------------------------------------------------------ bodies


def test_an_open_plane_reads_world_files_up_to_8_mib(with_token: Served) -> None:
    too_large = b" " * (8 * 1024 * 1024 + 1)
    response = with_token.control("PUT", "world", raw=too_large)
    assert response.status_code == 413
    assert response.json()["Code"] == "RequestTooLarge"


def test_a_plane_that_is_off_reads_no_body_past_the_ecs_limit(no_control: Served) -> None:
    response = no_control.control("PUT", "world", raw=b" " * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["Code"] == "RequestTooLarge"
