"""The ``taskcancel`` command: ``serve`` as a real process, ``cancel``/``describe`` against it.

Client commands run in-process (``taskcancel.cli.main``) where that is simpler, and once
through the installed console script; ``serve`` always runs as a subprocess, except for
the refusals that must happen before it binds anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.serve import (
    HANGZHOU,
    KEY_ID,
    SECRET,
)

from taskcancel.cli import main
from taskcancel.testing import ServeProcess

CREDENTIAL_ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``taskcancel ARGV`` in this process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------- cancel / describe


def test_missing_credentials_exit_2_naming_the_variables(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    status, out, err = run(
        capsys, "cancel", "--endpoint", "http://127.0.0.1:1", "--region", HANGZHOU, "--task", "t"
    )
    assert (status, out) == (2, "")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in err
    assert "ALIBABA_CLOUD_ACCESS_KEY_SECRET" in err


@pytest.mark.parametrize("argv", [["cancel", "--region", HANGZHOU], ["describe"], []])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    assert "usage: taskcancel" in capsys.readouterr().err


# ------------------------------------------------------------------------------ serve


@pytest.fixture
def no_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    """If a bad world were accepted, fail instead of serving forever."""
    from taskcancel.server._signals import StopSignals

    def refuse(*args: Any, **kwargs: Any) -> None:
        pytest.fail("taskcancel serve started with a world file it should have refused")

    monkeypatch.setattr(StopSignals, "serve", refuse)


def _task(**fields: Any) -> dict[str, Any]:
    return {
        "TaskId": "t-1",
        "RegionId": "cn-hangzhou",
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        **fields,
    }


BAD_WORLDS: list[tuple[str, str, str, str]] = [
    # (id, file text, field, reason fragment)
    ("invalid-json", '{"Tasks": [', "(file)", "not JSON"),
    ("unknown-top-field", json.dumps({"Taskz": []}), "Taskz", "unknown field"),
    (
        "unknown-task-field",
        json.dumps({"Tasks": [_task(Colour="red")]}),
        "Tasks[0].Colour",
        "unknown field",
    ),
    (
        "task-in-unknown-region",
        json.dumps({"Regions": ["cn-hangzhou"], "Tasks": [_task(RegionId="cn-beijing")]}),
        "Tasks[0].RegionId",
        "'cn-beijing' is not one of the Regions",
    ),
    (
        "bad-status",
        json.dumps({"Tasks": [_task(TaskStatus="Running")]}),
        "Tasks[0].TaskStatus",
        "Running",
    ),
    (
        "bad-action",
        json.dumps({"Tasks": [_task(TaskAction="Reboot")]}),
        "Tasks[0].TaskAction",
        "Reboot",
    ),
    (
        "unknown-owner",
        json.dumps({"Tasks": [_task(AccessKeyId="nobody")]}),
        "Tasks[0].AccessKeyId",
        "'nobody' is not one of the Accounts",
    ),
    ("not-an-object", "[]", "(top level)", "must be an object"),
]


@pytest.mark.usefixtures("no_serving")
@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [case[1:] for case in BAD_WORLDS],
    ids=[case[0] for case in BAD_WORLDS],
)
def test_serve_refuses_a_bad_world_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, field: str, reason: str
) -> None:
    world = tmp_path / "my-world.json"
    world.write_text(text)

    status, out, err = run(capsys, "serve", "--port", "0", "--world", str(world))

    assert status == 2
    assert "listening on" not in out
    assert err.startswith("taskcancel: error: ")
    assert str(world) in err
    assert field in err
    assert reason in err


@pytest.mark.usefixtures("no_serving")
def test_serve_refuses_a_missing_world_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"
    status, _, err = run(capsys, "serve", "--port", "0", "--world", str(missing))
    assert status == 2
    assert str(missing) in err
    assert "No such file" in err


@pytest.mark.usefixtures("no_serving")
@pytest.mark.parametrize("kind", ["not-a-database", "in-a-missing-directory"])
def test_serve_refuses_an_unusable_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    if kind == "not-a-database":
        store = tmp_path / "state.db"
        store.write_text("these are not the bytes of a SQLite file")
    else:
        store = tmp_path / "missing" / "state.db"
    status, out, err = run(capsys, "serve", "--port", "0", "--store", str(store))
    assert status == 2
    assert "listening on" not in out
    assert err.startswith("taskcancel: error: ")
    assert str(store) in err


@pytest.mark.parametrize("value", ["bad", "id:", ":secret"])
def test_bad_access_key_option_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["serve", "--port", "0", "--access-key", value])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--access-key" in err
    assert "expected ID:SECRET" in err


@pytest.mark.usefixtures("no_serving")
def test_serve_refuses_an_out_of_range_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:  # argparse's usage error
        run(capsys, "serve", "--port", "70000")
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--port" in err and "70000" in err and "0..65535" in err


# ------------------------------------------------------------------- the demo world


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``taskcancel serve --port 0``: the demo world, as a user first meets it."""
    log = tmp_path_factory.mktemp("demo") / "stderr.log"
    with ServeProcess(["--port", "0", "--access-key", "extra:extrasecret"], log_path=log) as server:
        yield server


# ------------------------------------------------------------------- --store (SQLite)
