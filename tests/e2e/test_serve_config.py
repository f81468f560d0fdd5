"""``taskcancel serve`` configured by ``TASKCANCEL_*`` variables, through the real process.

Each variable takes effect; a flag beats its variable; a bad value of each is refused at
start (exit 2, one line naming the variable, the value and the reason, no traceback);
``--help`` lists every flag with its default and its variable; a bad world file or store
is one clean ``FILE: FIELD: reason`` line.
"""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.calls import (
    HANGZHOU,
    call,
    json_request_lines,
    run_serve,
    serve_env,
    text_request_lines,
)

from taskcancel.api import IdGenerator
from taskcancel.testing import ServeProcess

ENV_KEY, ENV_SECRET = "envid", "envsecret"
FLAG_KEY, FLAG_SECRET = "flagid", "flagsecret"


def _world(path: Path, key_id: str, secret: str) -> Path:
    tasks = [
        {
            "TaskId": f"t-{key_id}-{status.lower()}",
            "RegionId": HANGZHOU,
            "TaskAction": "ImportImage",
            "TaskStatus": status,
            "AccessKeyId": key_id,
            "CreationTime": "2026-01-01T00:00Z",
        }
        for status in ("Processing", "Finished")
    ]
    document = {
        "Regions": [HANGZHOU],
        "Accounts": [{"AccessKeyId": key_id, "AccessKeySecret": secret}],
        "Tasks": tasks,
    }
    path.write_text(json.dumps(document))
    return path


def _variables(tmp_path: Path) -> dict[str, str]:
    """A value for every variable, each one the defaults would not give."""
    return {
        "TASKCANCEL_HOST": "127.0.0.2",
        "TASKCANCEL_PORT": "0",  # the default 8080 would show in the endpoint
        "TASKCANCEL_WORLD": str(_world(tmp_path / "env-world.json", ENV_KEY, ENV_SECRET)),
        "TASKCANCEL_STORE": str(tmp_path / "env.db"),
        "TASKCANCEL_PROFILE": "current",
        "TASKCANCEL_LOG_LEVEL": "debug",
        "TASKCANCEL_LOG_FORMAT": "json",
        "TASKCANCEL_SEED": "7",
        "TASKCANCEL_CLOCK": "fake=2030-01-02T03:04:05Z",
        "TASKCANCEL_CONTROL_TOKEN": "env-token",
        "TASKCANCEL_ACCESS_KEYS": "k1:s1, k2:s2",
    }


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def _control(http: httpx.Client, endpoint: str, route: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return http.get(f"{endpoint}/_taskcancel/{route}", headers=headers)


def _export_task_id(http: httpx.Client, endpoint: str, key_id: str, secret: str) -> str:
    params = {"RegionId": HANGZHOU, "ImageId": "m-seeded", "OSSBucket": "bucket"}
    reply = call(http, endpoint, "ExportImage", params, key_id=key_id, secret=secret)
    assert reply.status == 200, reply.body
    task_id: str = reply.body["TaskId"]
    return task_id


def _stop(served: ServeProcess) -> str:
    assert served.stop() == 0
    return served.log_text()


def test_every_variable_takes_effect(tmp_path: Path, http: httpx.Client) -> None:
    variables = _variables(tmp_path)
    with ServeProcess([], env=serve_env(**variables), log_path=tmp_path / "log") as served:
        # HOST and PORT: where it listens.
        assert served.host == "127.0.0.2"
        assert served.port not in (0, 8080)
        # WORLD and STORE: the world's account and tasks, in a new SQLite file.
        assert f"new SQLite store {variables['TASKCANCEL_STORE']}" in served.banner[0]
        assert variables["TASKCANCEL_WORLD"] in served.banner[0]
        assert Path(variables["TASKCANCEL_STORE"]).exists()
        # PROFILE: the current era's words for a finished task.
        finished = {"RegionId": HANGZHOU, "TaskId": f"t-{ENV_KEY}-finished"}
        reply = call(
            http, served.endpoint, "CancelTask", finished, key_id=ENV_KEY, secret=ENV_SECRET
        )
        assert (reply.status, reply.body["Code"]) == (403, "InvalidTaskId.IncorrectTaskStatus")
        # ACCESS_KEYS: both pairs are accounts (a new account owns no task).
        for key_id, secret in (("k1", "s1"), ("k2", "s2")):
            reply = call(
                http, served.endpoint, "DescribeTasks", {"RegionId": HANGZHOU},
                key_id=key_id, secret=secret,
            )  # fmt: skip
            assert (reply.status, reply.body["TotalCount"]) == (200, 0)
        # SEED: the ids ExportImage hands out.
        assert _export_task_id(http, served.endpoint, ENV_KEY, ENV_SECRET) == IdGenerator(7)("t")
        # CONTROL_TOKEN: the control plane wants it; CLOCK: a fake clock at the given start.
        assert _control(http, served.endpoint, "state", None).status_code in (401, 403)
        state = _control(http, served.endpoint, "state", "env-token")
        assert state.status_code == 200
        assert state.json()["Now"] == "2030-01-02T03:04:05Z"
        assert _control(http, served.endpoint, "health", None).json()["Clock"] == "fake"
        log = _stop(served)
    # LOG_FORMAT and LOG_LEVEL: JSON lines, with each request's parameters (debug).
    requests = json_request_lines(log)
    assert requests[reply.request_id]["Params"]["RegionId"] == HANGZHOU
    assert len(requests) == 7


def test_a_flag_beats_its_variable(tmp_path: Path, http: httpx.Client) -> None:
    variables = _variables(tmp_path)
    with socket.socket() as busy:  # the variable's port is taken: only the flag's can work
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        variables["TASKCANCEL_PORT"] = str(busy.getsockname()[1])
        flags = [
            "--host", "127.0.0.1",
            "--port", "0",
            "--world", str(_world(tmp_path / "flag-world.json", FLAG_KEY, FLAG_SECRET)),
            "--store", str(tmp_path / "flag.db"),
            "--profile", "2017",
            "--log-level", "info",
            "--log-format", "text",
            "--seed", "8",
            "--clock", "system",
            "--control-token", "flag-token",
            "--access-key", "k3:s3",
        ]  # fmt: skip
        env = serve_env(**variables)
        with ServeProcess(flags, env=env, log_path=tmp_path / "log") as served:
            assert (served.host, served.port) != ("127.0.0.1", busy.getsockname()[1])
            assert served.host == "127.0.0.1"
            assert "new SQLite store" in served.banner[0] and "flag.db" in served.banner[0]
            assert not Path(variables["TASKCANCEL_STORE"]).exists()
            finished = {"RegionId": HANGZHOU, "TaskId": f"t-{FLAG_KEY}-finished"}
            reply = call(
                http, served.endpoint, "CancelTask", finished, key_id=FLAG_KEY, secret=FLAG_SECRET
            )
            assert (reply.status, reply.body["Code"]) == (403, "IncorrectTaskStatus")  # 2017
            # --access-key replaces the variable's pairs.
            describe = {"RegionId": HANGZHOU}
            assert (
                call(
                    http, served.endpoint, "DescribeTasks", describe, key_id="k3", secret="s3"
                ).status
                == 200
            )
            refused = call(
                http, served.endpoint, "DescribeTasks", describe, key_id="k1", secret="s1"
            )
            assert refused.body["Code"] == "InvalidAccessKeyId.NotFound"
            task_id = _export_task_id(http, served.endpoint, FLAG_KEY, FLAG_SECRET)
            assert task_id == IdGenerator(8)("t")
            assert _control(http, served.endpoint, "state", "env-token").status_code in (401, 403)
            assert _control(http, served.endpoint, "state", "flag-token").status_code == 200
            assert _control(http, served.endpoint, "health", None).json()["Clock"] == "system"
            log = _stop(served)
    requests = text_request_lines(log)  # text, not JSON; info: no parameters
    assert reply.request_id in requests
    assert not any("Params" in fields for fields in requests.values())


def _bad_world(tmp_path: Path) -> str:
    path = tmp_path / "bad-world.json"
    path.write_text(json.dumps({"Tasks": [{"TaskId": "t-1"}]}))
    return str(path)


#: variable -> (bad value, or a function of tmp_path making one; what the message says)
BAD: dict[str, tuple[Any, str]] = {
    "TASKCANCEL_HOST": ("192.0.2.1", "cannot listen on 192.0.2.1:0 (from TASKCANCEL_HOST=192."),
    "TASKCANCEL_PORT": ("http", "TASKCANCEL_PORT='http': must be a port number 0..65535"),
    "TASKCANCEL_WORLD": (_bad_world, "TASKCANCEL_WORLD: {value}: Tasks[0].RegionId: required"),
    "TASKCANCEL_STORE": (str, "TASKCANCEL_STORE: {value}: cannot open the store file"),
    "TASKCANCEL_PROFILE": ("2099", "TASKCANCEL_PROFILE='2099': must be one of 2017, current"),
    "TASKCANCEL_LOG_LEVEL": ("verbose", "TASKCANCEL_LOG_LEVEL='verbose': must be one of debug, "),
    "TASKCANCEL_LOG_FORMAT": ("xml", "TASKCANCEL_LOG_FORMAT='xml': must be one of text, json"),
    "TASKCANCEL_SEED": ("seven", "TASKCANCEL_SEED='seven': must be an integer"),
    "TASKCANCEL_STORE_TIMEOUT": ("0", "TASKCANCEL_STORE_TIMEOUT='0': must be more than 0 and at"),
    "TASKCANCEL_SHUTDOWN_TIMEOUT": ("-1", "TASKCANCEL_SHUTDOWN_TIMEOUT='-1': must be more than 0 "),
    "TASKCANCEL_NO_CONTROL": ("maybe", "TASKCANCEL_NO_CONTROL='maybe': must be 1/true/yes/on or"),
    "TASKCANCEL_CLOCK": ("fake=soon", "TASKCANCEL_CLOCK='fake=soon': fake clock start 'soon' "),
    "TASKCANCEL_CONTROL_TOKEN": ("", "TASKCANCEL_CONTROL_TOKEN='': must not be empty"),
    "TASKCANCEL_ACCESS_KEYS": (
        "k1:s1,k2",
        "TASKCANCEL_ACCESS_KEYS='k1:***,k2': expected ID:SECRET[,ID:SECRET...], got 'k2'",
    ),
}  # fmt: skip


@pytest.mark.parametrize("variable", sorted(BAD))
def test_a_bad_value_of_each_variable_is_refused_at_start(tmp_path: Path, variable: str) -> None:
    make, expected = BAD[variable]
    value = make(tmp_path) if callable(make) else make  # str(tmp_path): a directory
    flags = [] if variable == "TASKCANCEL_PORT" else ["--port", "0"]  # a flag would win
    result = run_serve(*flags, env=serve_env(**{variable: value}))
    assert result.returncode == 2
    assert result.stdout == ""  # no banner: it never served
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"taskcancel: error: {expected.format(value=value)}"), line
    assert "s1" not in line  # a secret is never echoed


def test_a_bad_port_number_is_refused_too() -> None:
    result = run_serve(env=serve_env(TASKCANCEL_PORT="70000"))
    assert result.returncode == 2
    assert result.stderr == (
        "taskcancel: error: TASKCANCEL_PORT='70000': must be a port number 0..65535 "
        "(0 picks a free one)\n"
    )


def test_a_bad_variable_is_not_read_when_its_flag_is_given(tmp_path: Path) -> None:
    env = serve_env(TASKCANCEL_PROFILE="2099", TASKCANCEL_PORT="http")
    with ServeProcess(["--port", "0", "--profile", "current"], env=env) as served:
        assert "profile current" in served.banner[0]
        assert served.stop() == 0


#: flag -> (default as shown, variable): written out here, independently of the code.
HELP = {
    "--host": ("127.0.0.1", "TASKCANCEL_HOST"),
    "--port": ("8080", "TASKCANCEL_PORT"),
    "--world": ("the demo world", "TASKCANCEL_WORLD"),
    "--store": ("in memory", "TASKCANCEL_STORE"),
    "--store-timeout": ("5.0", "TASKCANCEL_STORE_TIMEOUT"),
    "--shutdown-timeout": ("5.0", "TASKCANCEL_SHUTDOWN_TIMEOUT"),
    "--profile": ("2017", "TASKCANCEL_PROFILE"),
    "--log-level": ("info", "TASKCANCEL_LOG_LEVEL"),
    "--log-format": ("text", "TASKCANCEL_LOG_FORMAT"),
    "--seed": ("none", "TASKCANCEL_SEED"),
    "--clock": ("system (fake starts at 2026-01-01T00:00:00Z)", "TASKCANCEL_CLOCK"),
    "--control-token": ("none", "TASKCANCEL_CONTROL_TOKEN"),
    "--access-key": ("none", "TASKCANCEL_ACCESS_KEYS"),
}


def test_help_lists_each_flag_with_its_default_and_its_variable() -> None:
    result = run_serve("--help", env=serve_env(COLUMNS="100"))
    assert result.returncode == 0
    text = " ".join(result.stdout.split())  # argparse wraps help lines
    assert "--no-control turn the /_taskcancel/ control plane off" in text
    assert "(env TASKCANCEL_NO_CONTROL=1)" in text
    for flag, (default, variable) in HELP.items():
        pattern = rf" {flag} \S+ ((?:(?! --).)*?)\(default: ([^;]*); env (\w+)\)"
        match = re.search(pattern, text)
        assert match is not None, flag
        assert (match[2], match[3]) == (default, variable), flag


# ------------------------------------------------------ world and store errors at start


def _locked_store(tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "locked.db"
    with ServeProcess(["--port", "0", "--store", str(path)]) as served:
        assert served.stop() == 0
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield str(path)
    finally:
        holder.close()


def _write(tmp_path: Path, name: str, data: bytes) -> str:
    (tmp_path / name).write_bytes(data)
    return str(tmp_path / name)


#: name -> (flags, given tmp_path; the line expected after "taskcancel: error: ")
START_ERRORS: dict[str, Any] = {
    "world field": lambda p: (["--world", _bad_world(p)], "{0}: Tasks[0].RegionId: required "),
    "world not JSON": lambda p: (
        ["--world", _write(p, "w.json", b"{nope")],
        "{0}: (file): not JSON: ",
    ),
    "world missing": lambda p: (
        ["--world", str(p / "missing.json")],
        "{0}: (file): No such file or directory",
    ),
    "world not UTF-8": lambda p: (
        ["--world", _write(p, "w.json", b'{"Regions": ["\xff"]}')],
        "{0}: (file): not UTF-8",
    ),
    "store a directory": lambda p: (["--store", str(p)], "{0}: cannot open the store file"),
    "store not a database": lambda p: (
        ["--store", _write(p, "x.db", b"not a database" * 100)],
        "{0}: is not a usable ",
    ),
}


@pytest.mark.parametrize("case", sorted(START_ERRORS))
def test_a_bad_world_file_or_store_is_one_clean_line(tmp_path: Path, case: str) -> None:
    flags, expected = START_ERRORS[case](tmp_path)
    result = run_serve("--port", "0", *flags, env=serve_env())
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("taskcancel: error: " + expected.format(flags[1])), line


def test_a_store_another_process_holds_locked_is_one_clean_line(tmp_path: Path) -> None:
    for path in _locked_store(tmp_path):
        # It waits --store-timeout (5 s by default) for the lock, then gives up.
        result = run_serve(
            "--port", "0", "--store", path, "--store-timeout", "0.2", env=serve_env()
        )
        assert result.returncode == 2
        assert result.stderr == f"taskcancel: error: {path}: cannot open (database is locked)\n"


def test_with_json_logs_a_start_error_is_one_json_line(tmp_path: Path) -> None:
    world = _bad_world(tmp_path)
    env = serve_env(TASKCANCEL_LOG_FORMAT="json")
    result = run_serve("--port", "0", "--world", world, env=env)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    entry = json.loads(line)
    assert entry["level"] == "ERROR"
    assert entry["message"].startswith(f"{world}: Tasks[0].RegionId: required")


@pytest.mark.parametrize("json_from", ["flag", "variable"])
def test_with_json_logs_a_bad_variable_is_one_json_line(json_from: str) -> None:
    flags = ["--log-format", "json"] if json_from == "flag" else []
    variables = {"TASKCANCEL_SEED": "seven"}
    if json_from == "variable":
        variables["TASKCANCEL_LOG_FORMAT"] = "JSON"
    result = run_serve("--port", "0", *flags, env=serve_env(**variables))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    entry = json.loads(line)
    assert (entry["level"], entry["message"]) == (
        "ERROR",
        "TASKCANCEL_SEED='seven': must be an integer",
    )


@pytest.mark.parametrize(("value", "off"), [("1", True), ("true", True), ("0", False)])
def test_the_no_control_variable_turns_the_control_plane_off(value: str, off: bool) -> None:
    with ServeProcess(["--port", "0"], env=serve_env(TASKCANCEL_NO_CONTROL=value)) as served:
        line = next(line for line in served.banner if line.startswith("control plane:"))
        assert ("off (TASKCANCEL_NO_CONTROL)" in line) is off, line
