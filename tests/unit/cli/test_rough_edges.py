"""Rough edges a newcomer meets in the CLI's configuration and banner (no process)."""

from __future__ import annotations

import argparse

import pytest

from taskcancel.cli._banner import reachable
from taskcancel.cli._serve_options import OPTIONS, settle


def _settled(monkeypatch: pytest.MonkeyPatch, **env: str) -> tuple[str | None, argparse.Namespace]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = argparse.Namespace(**dict.fromkeys(OPTIONS))
    return settle(args), args


def test_an_empty_no_control_variable_is_refused_like_every_other_empty_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem, _ = _settled(monkeypatch, TASKCANCEL_NO_CONTROL="")
    assert problem == "TASKCANCEL_NO_CONTROL='': must be 1/true/yes/on or 0/false/no/off"


def test_the_no_control_variable_is_remembered_as_where_the_switch_came_from(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    problem, args = _settled(monkeypatch, TASKCANCEL_NO_CONTROL="1")
    assert problem is None and args.no_control is True
    assert args.sources["no_control"] == "TASKCANCEL_NO_CONTROL"


@pytest.mark.parametrize(
    ("bound", "shown"),
    [
        ("http://0.0.0.0:8080", "http://127.0.0.1:8080"),
        ("http://[::]:8080", "http://[::1]:8080"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://192.0.2.7:80", "http://192.0.2.7:80"),
    ],
)
def test_a_client_is_shown_an_address_it_can_connect_to(bound: str, shown: str) -> None:
    assert reachable(bound) == shown
