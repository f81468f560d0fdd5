"""The request journal of a real ``taskcancel serve``: both Python SDKs' calls with their
Decision, ``taskcancel requests`` (table, escaping, ``--follow`` ended by SIGINT), the
``--journal-file`` complete after SIGTERM, and the HTTP long-poll."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _serve import (
    FAILS,
    FINISHED,
    HANGZHOU,
    KEY_ID,
    REDEPLOY,
    SECRET,
    clean_env,
    fresh_id,
    write_world,
)

from taskcancel import CancelTaskFailed, Client, HttpTransport, TaskNotFound
from taskcancel.testing import RequestJournal, ServeProcess

pytestmark = pytest.mark.usefixtures("no_proxy_env")


@pytest.fixture
def journal_file(tmp_path: Path) -> Path:
    return tmp_path / "journal.jsonl"


@pytest.fixture
def served(tmp_path: Path, journal_file: Path) -> Iterator[ServeProcess]:
    world = write_world(tmp_path / "world.json")
    args = ["--port", "0", "--world", str(world), "--journal-file", str(journal_file)]
    with ServeProcess(args) as process:
        yield process


def client(served: ServeProcess, signature: str = "acs3") -> Client:
    transport = HttpTransport(
        served.endpoint, access_key_id=KEY_ID, access_key_secret=SECRET, signature=signature
    )
    return Client(transport)


def requests_cli(served: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taskcancel.cli", "requests", "--endpoint", served.endpoint, *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )


def test_both_sdks_calls_are_recorded_with_their_decision(served: ServeProcess) -> None:
    from alibabacloud_ecs20140526 import models as ecs
    from alibabacloud_ecs20140526.client import Client as EcsClient
    from alibabacloud_tea_openapi.exceptions import ClientException
    from alibabacloud_tea_openapi.models import Config
    from aliyunsdkcore.acs_exception.exceptions import ServerException
    from aliyunsdkcore.client import AcsClient
    from aliyunsdkecs.request.v20140526.CancelTaskRequest import CancelTaskRequest

    config = Config(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        region_id=HANGZHOU,
        endpoint=served.netloc,
        protocol="HTTP",
    )
    new_sdk = EcsClient(config)
    new_sdk.cancel_task(ecs.CancelTaskRequest(region_id=HANGZHOU, task_id=fresh_id(0)))
    with pytest.raises(ClientException):
        new_sdk.cancel_task(ecs.CancelTaskRequest(region_id=HANGZHOU, task_id=FINISHED))
    old = CancelTaskRequest()
    old.set_endpoint(served.netloc)
    old.set_TaskId(REDEPLOY)
    with pytest.raises(ServerException):
        AcsClient(KEY_ID, SECRET, HANGZHOU).do_action_with_exception(old)

    journal = RequestJournal.of_url(served.endpoint)
    journal.assert_called("CancelTask", times=1, TaskId=fresh_id(0), RegionId=HANGZHOU)
    journal.assert_not_called("DescribeTasks")
    by_task = {e["TaskId"]: e for e in journal.entries(action="CancelTask")}
    ok, finished, redeploy = by_task[fresh_id(0)], by_task[FINISHED], by_task[REDEPLOY]
    assert (ok["Signature"], ok["Code"], ok["Decision"]["Step"]) == ("ACS3", "OK", "ok")
    assert ok["Decision"]["Task"]["TaskId"] == fresh_id(0)
    assert finished["Decision"]["Rule"] == 6
    assert finished["Decision"]["Task"]["TaskStatus"] == "Finished"
    assert redeploy["Signature"] == "V1" and redeploy["Decision"]["Rule"] == 5
    assert redeploy["Params"]["Signature"] == "***"
    assert redeploy["Ignored"] == []


def test_the_cli_prints_a_table_with_client_strings_escaped(served: ServeProcess) -> None:
    with client(served, "v1") as c:
        with pytest.raises(TaskNotFound):
            c.cancel_task(HANGZHOU, "t-\x1b[2J-evil")
        with pytest.raises(CancelTaskFailed):
            c.cancel_task(HANGZHOU, FAILS)
    result = requests_cli(served, "--action", "CancelTask")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "SEQ", "TIME", "ACTION", "REGION", "TASK", "ACCOUNT", "STATUS", "CODE", "WHY"
    ]  # fmt: skip
    assert "\x1b" not in result.stdout
    assert "t-\\x1b[2J-evil" in lines[1]
    assert "rules:TASK_NOT_FOUND (row 4)" in lines[1]
    assert "store:CANCEL_FAILED (row 7)" in lines[2]
    as_json = requests_cli(served, "--json", "--task", FAILS)
    [entry] = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert entry["Code"] == "CancelTaskFailed"


def test_the_cli_refuses_a_bad_endpoint_and_reports_server_errors(served: ServeProcess) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "taskcancel.cli", "requests", "--endpoint", "ftp://x"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert bad.returncode == 2 and "--endpoint" in bad.stderr


def test_follow_tails_new_calls_and_ctrl_c_exits_0_without_traceback(
    served: ServeProcess,
) -> None:
    follow = subprocess.Popen(
        [sys.executable, "-m", "taskcancel.cli", "requests", "--endpoint", served.endpoint,
         "--follow"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(PYTHONUNBUFFERED="1"),
    )  # fmt: skip
    try:
        assert follow.stdout is not None
        assert follow.stdout.readline().split()[0] == "SEQ"
        with client(served) as c:
            c.cancel_task(HANGZHOU, fresh_id(2))
        line = follow.stdout.readline()
        assert "CancelTask" in line and fresh_id(2) in line and "ok:OK" in line
        follow.send_signal(signal.SIGINT)
        assert follow.wait(30) == 0
        assert follow.stderr is not None
        assert "Traceback" not in follow.stderr.read()
    finally:
        if follow.poll() is None:
            follow.kill()
            follow.wait()


def test_the_journal_file_holds_every_entry_after_sigterm(
    served: ServeProcess, journal_file: Path
) -> None:
    with client(served) as c:
        for n in range(20):
            c.describe_task_attribute(HANGZHOU, fresh_id(n))
    httpx.post(served.endpoint + "/_taskcancel/reset", trust_env=False)
    served.send_signal(signal.SIGTERM)
    assert served.wait(30) == 0
    lines = [json.loads(line) for line in journal_file.read_text("utf-8").splitlines()]
    assert [e["Seq"] for e in lines] == list(range(1, 22))
    assert [e["Kind"] for e in lines] == ["ecs"] * 20 + ["control"]
    assert all(e["Code"] == "OK" for e in lines)


@pytest.mark.xfail(
    strict=True,
    reason="the connection layer answers a Deferred at once until it holds long-polls "
    "(built in parallel); remove this mark when it lands",
)
def test_a_long_poll_over_http_returns_when_a_call_arrives(served: ServeProcess) -> None:
    answers: list[Any] = []
    polling = threading.Thread(
        target=lambda: answers.append(
            httpx.get(
                served.endpoint + "/_taskcancel/requests",
                params={"Since": "0", "WaitSeconds": "30", "Action": "CancelTask"},
                trust_env=False,
                timeout=40,
            )
        )
    )
    polling.start()
    polling.join(1.0)  # not a sleep: it must still be waiting (nothing matched yet)
    assert answers == []
    with client(served) as c:
        c.cancel_task(HANGZHOU, fresh_id(4))
    polling.join(30)
    [response] = answers
    assert [e["TaskId"] for e in response.json()["Requests"]] == [fresh_id(4)]
