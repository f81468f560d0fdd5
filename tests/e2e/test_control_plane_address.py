"""Who may use the control plane, as ``taskcancel serve`` decides it from its address and flags,
and how large a body the connection reads for it.

The banner says whether the plane is on and why; bound to a non-loopback address the
plane is off unless ``--control-token`` is given. (What each route answers to whom is in
tests/unit/server/test_control_plane_access.py, through the app.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.control import HZ, ROUTES, TOKEN, Served, serving_process


@pytest.fixture(scope="module")
def with_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    directory = tmp_path_factory.mktemp("token")
    with serving_process(directory, "--control-token", TOKEN, token=TOKEN) as served:
        yield served


@pytest.fixture(scope="module")
def no_control(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serving_process(tmp_path_factory.mktemp("no-control"), "--no-control") as served:
        yield served


def banner_line(served: Served) -> str:
    [line] = [line for line in served.served.banner if line.startswith("control plane: ")]
    return line


def on_loopback(served: Served) -> Served:
    """The same server, called through 127.0.0.1 (it may be bound to 0.0.0.0)."""
    served.http.base_url = httpx.URL(f"http://127.0.0.1:{served.served.port}")
    return served


def test_the_banner_says_a_token_is_needed(with_token: Served) -> None:
    assert banner_line(with_token) == (
        f"control plane: {with_token.endpoint}/_taskcancel/ (needs Authorization: Bearer TOKEN)"
    )


def test_no_control_banner(no_control: Served) -> None:
    assert banner_line(no_control) == "control plane: off (--no-control)"


# ---------------------------------------------------------------- a non-loopback address


def test_off_loopback_without_a_token_the_plane_is_off(tmp_path: Path) -> None:
    with serving_process(tmp_path, "--host", "0.0.0.0") as served:
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
    with serving_process(
        tmp_path, "--host", "0.0.0.0", "--control-token", TOKEN, token=TOKEN
    ) as served:
        assert "(needs Authorization: Bearer TOKEN)" in banner_line(served)
        on_loopback(served)
        assert served.ok("POST", "reset") == {"Status": "reset"}
        served.refused("GET", "state", headers={}, status=403)
        served.ok("PATCH", "tasks/cn-hangzhou/t-run", {"TaskStatus": "Finished"})
        assert served.cancel(HZ, "t-run") == "IncorrectTaskStatus"


# ------------------------------------------------ bodies (the connection layer reads them)


def test_an_open_plane_reads_world_files_up_to_8_mib(with_token: Served) -> None:
    too_large = b" " * (8 * 1024 * 1024 + 1)
    response = with_token.control("PUT", "world", raw=too_large)
    assert response.status_code == 413
    assert response.json()["Code"] == "RequestTooLarge"


def test_a_plane_that_is_off_reads_no_body_past_the_ecs_limit(no_control: Served) -> None:
    response = no_control.control("PUT", "world", raw=b" " * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["Code"] == "RequestTooLarge"
