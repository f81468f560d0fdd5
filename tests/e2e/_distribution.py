"""Helpers for the distribution tests: build the wheel, find a free port, poll health.

Used by ``test_wheel.py`` and ``test_container.py`` (imported by name: pytest puts this
directory on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
#: CI sets CI (any value): there, what these tests need must be present, or they fail.
IN_CI = bool(os.environ.get("CI"))
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")
POLL = 0.05


def unavailable(reason: str) -> NoReturn:
    """Skip, saying why; under CI a failure instead."""
    if IN_CI:
        pytest.fail(f"{reason}; under CI this test must run")
    pytest.skip(reason)


def build_wheel(outdir: Path) -> Path:
    """``python -m build --wheel`` of this checkout into ``outdir``; the wheel's path."""
    outdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(outdir), str(REPO)],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0 and "No module named build" in done.stderr:
        unavailable("`python -m build` is not installed (pip install build; it is in [test])")
    assert done.returncode == 0, f"python -m build failed:\n{done.stdout}\n{done.stderr}"
    wheels = sorted(outdir.glob("taskcancel-*-py3-none-any.whl"))
    assert len(wheels) == 1, f"expected one wheel in {outdir}, got {wheels}"
    return wheels[0]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def control(
    endpoint: str,
    method: str,
    route: str,
    body: Any = None,
    *,
    token: str | None = None,
) -> tuple[int, Any]:
    """One control-plane call: ``(HTTP status, decoded JSON body)``."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{endpoint}/_taskcancel/{route}", data=data, headers=headers, method=method
    )
    try:
        with no_proxy_opener().open(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for_health(
    endpoint: str, *, alive: Callable[[], str | None], timeout: float = 60.0
) -> dict[str, Any]:
    """Poll ``GET /_taskcancel/health`` until it answers; ``alive()`` returns why the
    server can no longer come up (it exited), or ``None`` while it may still."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            status, body = control(endpoint, "GET", "health")
            if status == 200:
                return dict(body)
            last = f"HTTP {status}: {body}"
        except (OSError, ValueError) as exc:
            last = repr(exc)
        gone = alive()
        if gone is not None:
            pytest.fail(f"the server at {endpoint} is gone before it was healthy: {gone}")
        time.sleep(POLL)
    pytest.fail(f"no health from {endpoint} within {timeout} s (last: {last})")
