"""The client verbs as a user runs them, exit statuses and all.

``cancel``/``describe`` talk to a real emulator (:class:`EmulatorServer`, in this process);
``state``/``reset`` to a small stub of the control plane (``/_taskcancel/state`` and
``/_taskcancel/reset`` in the shapes the emulator answers), which also records what the
CLI sent. Each verb's exit statuses: 0 done, 1 an error answer, 2 usage, 3 no answer.
The commands run in this process (:func:`support.cli.run_cli`) except where the process
is what is tested: ``python -m taskcancel.cli --version`` and a reader that goes away.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from support.cli import cli_env
from support.cli import run_cli as cli
from support.serve import taskcancel_command

import taskcancel
from taskcancel import Task
from taskcancel.testing import EmulatorServer

KEYS = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "testid", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "testsecret"}
HANGZHOU, SHANGHAI, SINGAPORE = "cn-hangzhou", "cn-shanghai", "ap-southeast-1"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """150 tasks in cn-hangzhou, exactly 100 in cn-shanghai, none in ap-southeast-1."""
    tasks = [
        Task(task_id=f"t-page{n:016d}", region_id=region, action="ImportImage", status="Finished")
        for region, count in ((HANGZHOU, 150), (SHANGHAI, 100))
        for n in range(count)
    ]
    with EmulatorServer(tasks) as server:
        yield server


# ----------------------------------------------------------------------- --version


def test_version() -> None:
    """The module runs as ``python -m taskcancel.cli`` in a process of its own."""
    result = subprocess.run(
        taskcancel_command("--version"), capture_output=True, text=True, env=cli_env(), timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        f"taskcancel {taskcancel.__version__}\n",
        "",
    )
    assert result.stdout == "taskcancel 0.1.0\n"


# ------------------------------------------------------------------ describe paging


def describe(emulator: EmulatorServer, region: str, *more: str) -> subprocess.CompletedProcess[str]:
    return cli("describe", "--endpoint", emulator.endpoint, "--region", region, *more, **KEYS)


def test_describe_says_when_it_shows_only_the_first_page(emulator: EmulatorServer) -> None:
    result = describe(emulator, HANGZHOU)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["TotalCount"], len(body["TaskSet"]["Task"])) == (150, 100)
    assert result.stderr == "taskcancel: showing 100 of 150 tasks; --all lists every one\n"


@pytest.mark.parametrize(("region", "count"), [(HANGZHOU, 150), (SHANGHAI, 100), (SINGAPORE, 0)])
def test_describe_all_pages_through_every_task(
    emulator: EmulatorServer, region: str, count: int
) -> None:
    result = describe(emulator, region, "--all")
    assert (result.returncode, result.stderr) == (0, "")
    body = json.loads(result.stdout)
    ids = [task["TaskId"] for task in body["TaskSet"]["Task"]]
    assert sorted(ids) == [f"t-page{n:016d}" for n in range(count)]  # each once
    assert (body["RegionId"], body["TotalCount"]) == (region, count)
    assert len(body["RequestIds"]) == max(1, -(-count // 100))  # one call per page


def test_exactly_one_full_page_needs_no_note(emulator: EmulatorServer) -> None:
    result = describe(emulator, SHANGHAI)
    assert (result.returncode, result.stderr) == (0, "")
    assert len(json.loads(result.stdout)["TaskSet"]["Task"]) == 100


def test_all_and_task_do_not_mix(emulator: EmulatorServer) -> None:
    result = describe(emulator, HANGZHOU, "--all", "--task", "t-page0000000000000001")
    assert (result.returncode, result.stdout) == (2, "")
    assert "argument --task: not allowed with argument --all" in result.stderr


# ------------------------------------------------------------------- credentials


@pytest.mark.parametrize("verb", ["cancel", "describe"])
def test_missing_credentials_are_reported_in_cli_terms(verb: str) -> None:
    args = (verb, "--endpoint", "http://127.0.0.1:9", "--region", HANGZHOU, "--task", "t-1")
    result = cli(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "taskcancel: error: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET\n"
    )
    only_id = cli(*args, ALIBABA_CLOUD_ACCESS_KEY_ID="testid")
    assert only_id.returncode == 2
    assert only_id.stderr == (
        "taskcancel: error: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
        "(ALIBABA_CLOUD_ACCESS_KEY_SECRET is not set)\n"
    )


# ----------------------------------------------------------------------- --timeout

BAD_TIMEOUTS = ["0", "-1", "-0.5", "nan", "inf", "-inf", "soon", ""]


@pytest.mark.parametrize(
    ("verb", "value"),
    [("cancel", value) for value in BAD_TIMEOUTS]
    + [(verb, value) for verb in ("describe", "state", "reset") for value in ("0", "inf")],
)
def test_timeout_must_be_a_positive_finite_number(verb: str, value: str) -> None:
    where = ("--region", HANGZHOU, "--task", "t-1") if verb in ("cancel", "describe") else ()
    result = cli(verb, "--endpoint", "http://127.0.0.1:9", *where, f"--timeout={value}", **KEYS)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr.startswith(f"usage: taskcancel {verb} ")
    assert result.stderr.endswith(
        f"taskcancel {verb}: error: argument --timeout: "
        f"must be a positive number of seconds, got {value!r}\n"
    )


def test_a_small_positive_timeout_is_accepted(emulator: EmulatorServer) -> None:
    assert describe(emulator, SINGAPORE, "--timeout", "0.5").returncode == 0


# -------------------------------------------------------------- one-line errors


def test_an_error_message_with_a_newline_prints_on_one_line(emulator: EmulatorServer) -> None:
    # ACS3's string to sign is "ACS3-HMAC-SHA256\n<hash>": the server's message carries it.
    wrong = {**KEYS, "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "not-the-secret"}
    args = ("--endpoint", emulator.endpoint, "--region", HANGZHOU, "--task", "t-1")
    result = cli("cancel", *args, "--signature", "acs3", **wrong)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(")\n")
    assert re.fullmatch(
        r"SignatureDoesNotMatch: Specified signature is not matched with our calculation\. "
        r"server string to sign is:ACS3-HMAC-SHA256\\n[0-9a-f]{64} "
        r"\(HTTP 400, RequestId [0-9A-F-]{36}\)\n",
        result.stderr,
    ), result.stderr


# -------------------------------------------------------------------- help text

_OPTION_LINE = re.compile(r"^  (-\S+(?:, -\S+)*)(?: (\S+))?(?:\s{2,}(\S.*))?$")


def options_without_help(help_text: str) -> list[str]:
    """The options in an argparse ``--help`` listing whose help text is empty."""
    lines = help_text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        match = _OPTION_LINE.match(line)
        if not match:
            continue
        follows = lines[i + 1] if i + 1 < len(lines) else ""
        if match.group(3) is None and not follows.startswith(" " * 10):
            missing.append(match.group(1))
    return missing


@pytest.mark.parametrize("verb", [[], ["cancel"], ["describe"], ["state"], ["reset"]])
def test_every_option_has_help(verb: list[str]) -> None:
    result = cli(*verb, "--help")
    assert result.returncode == 0, result.stderr
    assert "options:" in result.stdout
    assert options_without_help(result.stdout) == [], result.stdout


def test_the_help_check_would_notice_an_option_without_help() -> None:
    listing = "options:\n  -h, --help  show this\n  --bare X\n  --next      has help\n"
    assert options_without_help(listing) == ["--bare"]


# ============================================================ state / reset (stub)

WORLD = {
    "Regions": [HANGZHOU, SHANGHAI],
    "Accounts": [{"AccessKeyId": "testid", "AccessKeySecret": "testsecret"}],
    "Tasks": [
        {
            "TaskId": "t-b-second",
            "RegionId": SHANGHAI,
            "TaskAction": "ExportImage",
            "TaskStatus": "Waiting",
            "AccessKeyId": "testid",
        },
        {
            "TaskId": "t-a-first",
            "RegionId": HANGZHOU,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
            "AccessKeyId": "testid",
            "TaskProcess": "40%",
            "CancelFails": True,
        },
        {
            "TaskId": "t-tenant\nline",  # a hostile id stays on its row
            "RegionId": HANGZHOU,
            "TaskAction": "RedeployInstance",
            "TaskStatus": "Finished",
            "AccessKeyId": "tenant-b",
            "TaskProcess": "100%",
        },
    ],
    "Faults": {"ThrottleRate": 0.0, "RetryAfterMs": 1000, "LatencyMs": 0},
    "Now": "2026-01-01T00:00:00Z",
}


class ControlStub:
    """``/_taskcancel/state`` and ``/_taskcancel/reset`` answering ``answers[path]``."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.answers: dict[str, tuple[int, bytes]] = {
            "/_taskcancel/state": (200, json.dumps(WORLD).encode()),
            "/_taskcancel/reset": (200, b'{"Status": "reset"}'),
        }
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def answer(self) -> None:
                stub.requests.append((self.command, self.path, dict(self.headers.items())))
                status, body = stub.answers.get(
                    self.path, (404, b'{"Code": "NotFound", "Message": "no such route"}')
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        # A short poll: shutdown() waits for serve_forever's next poll (0.5 s by default).
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def stub() -> Iterator[ControlStub]:
    server = ControlStub()
    yield server
    server.close()


def test_state_prints_an_aligned_table(stub: ControlStub) -> None:
    result = cli("state", "--endpoint", stub.endpoint)
    assert (result.returncode, result.stderr) == (0, "")
    rows = result.stdout.splitlines()
    assert [re.split(r" {2,}", row) for row in rows] == [
        ["ACCOUNT", "REGION", "ID", "ACTION", "STATUS", "PROGRESS", "CANCEL-FAILS"],
        ["tenant-b", HANGZHOU, "t-tenant\\nline", "RedeployInstance", "Finished", "100%", "no"],
        ["testid", HANGZHOU, "t-a-first", "ImportImage", "Processing", "40%", "yes"],
        ["testid", SHANGHAI, "t-b-second", "ExportImage", "Waiting", "-", "no"],
    ]
    # Aligned: every column starts at the same offset on every line.
    starts = {tuple(m.start() for m in re.finditer(r"(?:^|(?<=  ))\S", row)) for row in rows}
    assert len(starts) == 1, rows
    assert [(method, path) for method, path, _ in stub.requests] == [("GET", "/_taskcancel/state")]


def test_state_json_prints_the_world_as_received(stub: ControlStub) -> None:
    raw = json.dumps(WORLD, indent=1).encode()
    stub.answers["/_taskcancel/state"] = (200, raw)
    result = cli("state", "--json", "--endpoint", stub.endpoint + "/")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == raw.decode() + "\n"


def test_reset_posts_and_prints_the_answer(stub: ControlStub) -> None:
    result = cli("reset", TASKCANCEL_ENDPOINT=stub.endpoint)
    assert (result.returncode, result.stderr) == (0, "")
    assert json.loads(result.stdout) == {"Status": "reset"}
    assert [(method, path) for method, path, _ in stub.requests] == [("POST", "/_taskcancel/reset")]


@pytest.mark.parametrize("verb", ["state", "reset"])
def test_the_control_token_is_sent_only_when_set(stub: ControlStub, verb: str) -> None:
    assert cli(verb, "--endpoint", stub.endpoint).returncode == 0
    assert cli(verb, "--endpoint", stub.endpoint, TASKCANCEL_CONTROL_TOKEN="s3cret").returncode == 0
    sent = [{k.lower(): v for k, v in headers.items()} for _, _, headers in stub.requests]
    assert "authorization" not in sent[0]
    assert sent[1]["authorization"] == "Bearer s3cret"


@pytest.mark.parametrize("verb", ["state", "reset"])
@pytest.mark.parametrize(
    ("status", "body", "line"),
    [
        (
            403,
            b'{"Code": "Forbidden", "Message": "wrong token"}',
            "Forbidden: wrong token (HTTP 403)",
        ),
        (
            409,
            b'{"Code": "Conflict", "Message": "two\\nlines"}',
            "Conflict: two\\nlines (HTTP 409)",
        ),
        (
            404,
            b"<html>not here</html>",
            "taskcancel: error: HTTP 404 with no control-plane error in the body: "
            "'<html>not here</html>'",
        ),
    ],
    ids=["code", "newline", "not-json"],
)
def test_an_error_answer_exits_1(
    stub: ControlStub, verb: str, status: int, body: bytes, line: str
) -> None:
    stub.answers[f"/_taskcancel/{verb}"] = (status, body)
    result = cli(verb, "--endpoint", stub.endpoint)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", line + "\n")


def test_an_unreadable_answer_exits_3(stub: ControlStub) -> None:
    stub.answers["/_taskcancel/state"] = (200, b"not json")
    result = cli("state", "--endpoint", stub.endpoint)
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr.startswith("taskcancel: error: unreadable answer from ")


@pytest.mark.parametrize("verb", ["state", "reset"])
def test_no_answer_exits_3(verb: str) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(verb, "--endpoint", f"http://127.0.0.1:{port}")
    assert (result.returncode, result.stdout) == (3, "")
    assert result.stderr.startswith(
        f"taskcancel: error: no answer from http://127.0.0.1:{port}/_taskcancel/{verb}: "
    )


@pytest.mark.parametrize("endpoint", ["127.0.0.1:8080", "ftp://127.0.0.1", "http://"])
def test_a_bad_endpoint_is_a_usage_error(endpoint: str) -> None:
    result = cli("state", "--endpoint", endpoint)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "taskcancel: error: --endpoint must be an http(s) URL like http://127.0.0.1:8080, "
        f"got {endpoint!r}\n"
    )


@pytest.mark.parametrize("verb", ["state", "reset"])
def test_a_reader_that_goes_away_is_no_error(stub: ControlStub, verb: str) -> None:
    """``taskcancel state | head -1``: no BrokenPipeError traceback."""
    process = subprocess.Popen(
        taskcancel_command(verb, "--endpoint", stub.endpoint),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # long before the interpreter has started
    err = process.stderr.read()
    assert (process.wait(timeout=60), err) == (0, b"")
