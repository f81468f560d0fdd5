"""The ``taskcancel`` command against a real ``serve`` process: client commands, the
console script, the banner's example, the request log, exit codes of a failing serve.
(The CLI's parsing and in-process behaviour is in tests/unit/cli/test_cli.py.)
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.serve import (
    EXPECTED,
    FAILS,
    FINISHED,
    HANGZHOU,
    KEY_ID,
    MISSING,
    OTHERS,
    REDEPLOY,
    REQUEST_ID,
    SECRET,
    SHANGHAI,
    SHANGHAI_OTHER,
    SHANGHAI_TASKS,
    UNKNOWN_REGION,
    ServedEmulator,
    clean_env,
    taskcancel_command,
)

from taskcancel.cli import main
from taskcancel.testing import ServeProcess

CREDENTIAL_ENV = {
    "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
    "ALIBABA_CLOUD_ACCESS_KEY_SECRET": SECRET,
}


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIAL_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("TASKCANCEL_ENDPOINT", raising=False)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``taskcancel ARGV`` in this process: (exit status, stdout, stderr)."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def rejection_line(code: str, message: str) -> re.Pattern[str]:
    return re.compile(
        re.escape(f"{code}: {message} (HTTP ") + r"\d{3}, RequestId " + REQUEST_ID.pattern + r"\)\n"
    )


# ----------------------------------------------------------------- cancel / describe


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("signature", ["acs3", "v1"])
def test_cancel_prints_the_reply_as_json(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str], signature: str
) -> None:
    status, out, err = run(
        capsys,
        "cancel",
        "--endpoint",
        served.endpoint,
        "--region",
        HANGZHOU,
        "--task",
        served.fresh_task(),
        "--signature",
        signature,
    )
    assert (status, err) == (0, "")
    body = json.loads(out)
    assert list(body) == ["RequestId"]
    assert REQUEST_ID.fullmatch(body["RequestId"])


CLI_REJECTIONS = [
    ("", "t-anything", "MISSING_REGION_ID"),
    (HANGZHOU, "", "MISSING_TASK_ID"),
    (UNKNOWN_REGION, FINISHED, "REGION_NOT_FOUND"),
    (HANGZHOU, MISSING, "TASK_NOT_FOUND"),
    (HANGZHOU, OTHERS, "TASK_NOT_FOUND"),
    (HANGZHOU, REDEPLOY, "ACTION_NOT_SUPPORTED"),
    (HANGZHOU, FINISHED, "INCORRECT_TASK_STATUS"),
    (HANGZHOU, FAILS, "CANCEL_FAILED"),
]


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize(("region", "task", "reason"), CLI_REJECTIONS)
def test_a_rejection_exits_1_with_the_code_on_stderr(
    served: ServedEmulator,
    capsys: pytest.CaptureFixture[str],
    region: str,
    task: str,
    reason: str,
) -> None:
    expected = EXPECTED[reason][served.profile]
    status, out, err = run(
        capsys, "cancel", "--endpoint", served.endpoint, "--region", region, "--task", task
    )
    assert (status, out) == (1, "")
    assert rejection_line(expected.code, expected.message).fullmatch(err), err
    assert f"(HTTP {expected.http_status}," in err


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("shown", ["2017", "current"])
@pytest.mark.parametrize(
    ("task", "reason"),
    [
        (REDEPLOY, "ACTION_NOT_SUPPORTED"),
        (FINISHED, "INCORRECT_TASK_STATUS"),
        (FAILS, "CANCEL_FAILED"),
        (MISSING, "TASK_NOT_FOUND"),
    ],
)
def test_profile_option_reports_codes_in_that_profiles_words(
    served: ServedEmulator,
    capsys: pytest.CaptureFixture[str],
    shown: str,
    task: str,
    reason: str,
) -> None:
    status, _, err = run(
        capsys,
        "cancel",
        "--endpoint",
        served.endpoint,
        "--region",
        HANGZHOU,
        "--task",
        task,
        "--profile",
        shown,
    )
    expected = EXPECTED[reason][shown]
    assert status == 1
    assert err.startswith(f"{expected.code}: {expected.message} (HTTP {expected.http_status},"), err


@pytest.mark.usefixtures("credentials")
def test_profile_option_maps_region_not_found(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    other = "current" if served.profile == "2017" else "2017"
    _, _, err = run(
        capsys,
        "cancel",
        "--endpoint",
        served.endpoint,
        "--region",
        UNKNOWN_REGION,
        "--task",
        FINISHED,
        "--profile",
        other,
    )
    assert err.startswith(EXPECTED["REGION_NOT_FOUND"][other].code + ": ")


@pytest.mark.usefixtures("credentials")
def test_describe_one_task_before_and_after_cancel(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    task_id = served.fresh_task()
    where = ("--endpoint", served.endpoint, "--region", HANGZHOU, "--task", task_id)

    status, out, _ = run(capsys, "describe", *where)
    before = json.loads(out)
    assert status == 0
    assert (before["TaskId"], before["RegionId"]) == (task_id, HANGZHOU)
    assert (before["TaskStatus"], before["SupportCancel"]) == ("Processing", "true")

    assert run(capsys, "cancel", *where)[0] == 0

    after = json.loads(run(capsys, "describe", *where)[1])
    assert (after["TaskStatus"], after["SupportCancel"]) == ("Deleted", "false")
    assert after["FinishedTime"]


@pytest.mark.usefixtures("credentials")
def test_describe_without_task_lists_the_regions_tasks(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(capsys, "describe", "--endpoint", served.endpoint, "--region", SHANGHAI)
    assert (status, err) == (0, "")
    body = json.loads(out)
    ids = {task["TaskId"] for task in body["TaskSet"]["Task"]}
    assert ids == {task_id for task_id, *_ in SHANGHAI_TASKS}
    assert SHANGHAI_OTHER not in ids
    assert body["TotalCount"] == len(SHANGHAI_TASKS)
    assert body["RegionId"] == SHANGHAI


@pytest.mark.usefixtures("credentials")
def test_describe_an_unknown_task_exits_1(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str]
) -> None:
    expected = EXPECTED["TASK_NOT_FOUND"][served.profile]
    status, out, err = run(
        capsys, "describe", "--endpoint", served.endpoint, "--region", HANGZHOU, "--task", MISSING
    )
    assert (status, out) == (1, "")
    assert rejection_line(expected.code, expected.message).fullmatch(err), err


@pytest.mark.usefixtures("credentials")
def test_gateway_errors_exit_1_too(
    served: ServedEmulator, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong")
    status, _, err = run(
        capsys, "cancel", "--endpoint", served.endpoint, "--region", HANGZHOU, "--task", MISSING
    )
    assert status == 1
    assert err.startswith("SignatureDoesNotMatch: Specified signature is not matched")


@pytest.mark.usefixtures("credentials")
def test_no_answer_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    status, out, err = run(
        capsys,
        "cancel",
        "--endpoint",
        f"http://127.0.0.1:{port}",
        "--region",
        HANGZHOU,
        "--task",
        "t",
    )
    assert (status, out) == (3, "")
    assert err.startswith("taskcancel: error:")


def test_the_console_script_end_to_end(served: ServedEmulator) -> None:
    script = Path(sys.executable).with_name("taskcancel")
    assert script.exists(), script
    env = clean_env(**CREDENTIAL_ENV, TASKCANCEL_ENDPOINT=served.endpoint)

    ok = subprocess.run(
        [str(script), "cancel", "--region", HANGZHOU, "--task", served.fresh_task()],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert REQUEST_ID.fullmatch(json.loads(ok.stdout)["RequestId"])

    refused = subprocess.run(
        [str(script), "cancel", "--region", HANGZHOU, "--task", FINISHED],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    expected = EXPECTED["INCORRECT_TASK_STATUS"][served.profile]
    assert (refused.returncode, refused.stdout) == (1, "")
    assert rejection_line(expected.code, expected.message).fullmatch(refused.stderr)


# ------------------------------------------------------------------------------ serve


def _task(**fields: Any) -> dict[str, Any]:
    return {
        "TaskId": "t-1",
        "RegionId": "cn-hangzhou",
        "TaskAction": "ImportImage",
        "TaskStatus": "Processing",
        **fields,
    }


def test_serve_process_exits_2_on_a_bad_world(tmp_path: Path) -> None:
    world = tmp_path / "bad.json"
    world.write_text(json.dumps({"Tasks": [_task(TaskStatus="Running")]}))
    result = subprocess.run(
        taskcancel_command("serve", "--port", "0", "--world", str(world)),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{world}: Tasks[0].TaskStatus:" in result.stderr
    assert "listening on" not in result.stdout


# ------------------------------------------------------------------- the demo world


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """``taskcancel serve --port 0``: the demo world, as a user first meets it."""
    log = tmp_path_factory.mktemp("demo") / "stderr.log"
    with ServeProcess(["--port", "0", "--access-key", "extra:extrasecret"], log_path=log) as server:
        yield server


def test_serve_prints_its_real_endpoint_and_credentials(demo: ServeProcess) -> None:
    assert demo.banner[-1] == f"listening on http://127.0.0.1:{demo.port}"
    assert demo.port != 0
    assert (
        "credentials: ALIBABA_CLOUD_ACCESS_KEY_ID=testid ALIBABA_CLOUD_ACCESS_KEY_SECRET=testsecret"
        in demo.banner
    )
    # Something really listens there, and answers like the gateway.
    reply = httpx.get(demo.endpoint + "/", trust_env=False)
    assert reply.status_code == 400
    assert reply.json()["Code"] == "MissingAction"


def test_the_printed_example_command_works(tmp_path: Path) -> None:
    with ServeProcess(["--port", "0"], log_path=tmp_path / "stderr.log") as server:
        (example,) = [line for line in server.banner if line.startswith("try: ")]
        words = shlex.split(example.removeprefix("try: "))
        env_words = [w for w in words if "=" in w and w.split("=")[0].isupper()]
        command = words[len(env_words) :]
        assert command[0] == "taskcancel"
        assert f"--endpoint {server.endpoint}" in example
        env = clean_env(**dict(w.split("=", 1) for w in env_words))
        result = subprocess.run(
            [str(Path(sys.executable).with_name("taskcancel")), *command[1:]],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert REQUEST_ID.fullmatch(json.loads(result.stdout)["RequestId"])


def _cancel(
    capsys: pytest.CaptureFixture[str], endpoint: str, task: str, region: str = HANGZHOU
) -> tuple[int, str, str]:
    return run(capsys, "cancel", "--endpoint", endpoint, "--region", region, "--task", task)


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize(
    ("task", "code"),
    [
        ("t-demo-redeployinstance-processing", "TaskActionNotSupport"),
        ("t-demo-modifydiskspec-processing", "TaskActionNotSupport"),
        ("t-demo-importimage-finished", "IncorrectTaskStatus"),
        ("t-demo-exportimage-waiting", "IncorrectTaskStatus"),
        ("t-demo-cancel-fails", "CancelTaskFailed"),
        ("t-demo-no-such-task", "InvalidTaskId.NotFound"),
    ],
)
def test_the_demo_world_offers_every_rejection(
    demo: ServeProcess, capsys: pytest.CaptureFixture[str], task: str, code: str
) -> None:
    status, _, err = _cancel(capsys, demo.endpoint, task)
    assert status == 1
    assert err.startswith(f"{code}: "), err


@pytest.mark.usefixtures("credentials")
def test_the_demo_world_can_cancel_a_running_import(
    demo: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = _cancel(capsys, demo.endpoint, "t-demo-importimage-processing")
    assert status == 0
    assert REQUEST_ID.fullmatch(json.loads(out)["RequestId"])
    again = _cancel(capsys, demo.endpoint, "t-demo-importimage-processing")
    assert again[0] == 1
    assert again[2].startswith("IncorrectTaskStatus: ")


@pytest.mark.usefixtures("credentials")
def test_the_demo_world_has_tasks_in_other_regions(
    demo: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = run(capsys, "describe", "--endpoint", demo.endpoint, "--region", SHANGHAI)
    assert status == 0
    assert json.loads(out)["TaskSet"]["Task"]
    status, out, _ = run(capsys, "describe", "--endpoint", demo.endpoint, "--region", HANGZHOU)
    statuses = {task["TaskStatus"] for task in json.loads(out)["TaskSet"]["Task"]}
    assert {"Processing", "Finished", "Waiting", "Failed", "Paused"} <= statuses


def test_access_key_option_adds_an_account(
    demo: ServeProcess, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "extra")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "extrasecret")
    status, out, err = run(capsys, "describe", "--endpoint", demo.endpoint, "--region", HANGZHOU)
    assert (status, err) == (0, "")
    assert json.loads(out)["TaskSet"]["Task"] == []  # a new account owns nothing


_LOG_LINE = re.compile(
    r" INFO request RequestId=\S+ Action=(?P<action>\S+) .*Code=(?P<code>\S+) "
    r"Status=(?P<status>\d{3}) LatencyMs=(?P<latency>\d+(\.\d+)?)$"
)


def _log_lines(server: ServeProcess) -> list[re.Match[str]]:
    return [m for m in map(_LOG_LINE.search, server.log_text().splitlines()) if m]


@pytest.mark.usefixtures("credentials")
def test_serve_logs_one_line_per_request(
    demo: ServeProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    _cancel(capsys, demo.endpoint, "t-demo-exportimage-processing")
    _cancel(capsys, demo.endpoint, "t-demo-redeployinstance-finished")
    run(capsys, "describe", "--endpoint", demo.endpoint, "--region", UNKNOWN_REGION)
    marks = ("t-demo-exportimage-processing", "t-demo-redeployinstance-finished", UNKNOWN_REGION)

    import time

    def ours() -> list[re.Match[str]]:
        return [m for m in _log_lines(demo) if any(mark in m.string for mark in marks)]

    deadline = time.monotonic() + 10
    while len(ours()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)  # lines are written by the log's own thread, just after
    got = [(m["action"], m["code"], m["status"]) for m in ours()]
    assert got == [
        ("CancelTask", "OK", "200"),
        ("CancelTask", "TaskActionNotSupport", "400"),
        ("DescribeTasks", "RegionId.NotFound", "400"),
    ]


# ------------------------------------------------------------------- --store (SQLite)


def _example(server: ServeProcess) -> tuple[str, str]:
    (line,) = [line for line in server.banner if line.startswith("try: ")]
    words = shlex.split(line.removeprefix("try: "))
    return words[words.index("--region") + 1], words[words.index("--task") + 1]


@pytest.mark.usefixtures("credentials")
def test_a_restarted_store_keeps_its_state_says_so_and_offers_a_task_it_can_still_cancel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--port", "0", "--store", str(tmp_path / "state.db")]
    with ServeProcess(args, log_path=tmp_path / "1.log") as first:
        assert "new SQLite store" in first.banner[0]
        region, task = _example(first)
        assert _cancel(capsys, first.endpoint, task, region)[0] == 0

    with ServeProcess(args, log_path=tmp_path / "2.log") as second:
        assert "(its tasks kept)" in second.banner[0]
        assert "accounts and faults from demo world" in second.banner[0]
        status, out, _ = run(
            capsys, "describe", "--endpoint", second.endpoint, "--region", region, "--task", task
        )
        assert status == 0
        assert json.loads(out)["TaskStatus"] == "Deleted"
        again = _example(second)
        assert again != (region, task)  # that one is Deleted in the store now
        assert _cancel(capsys, second.endpoint, again[1], again[0])[0] == 0
