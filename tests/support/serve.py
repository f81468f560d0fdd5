"""The fixture world of the end-to-end tests, and thin wrappers over ``ServeProcess``.

The fixtures in ``conftest.py`` run ``taskcancel serve`` (through
:class:`taskcancel.testing.ServeProcess`, via :func:`start_serve`) over
:func:`fixture_world`: a world file with a fixed set of read-only tasks (one per
rejection reason) plus a pool of ``Processing`` ImportImage/ExportImage tasks that tests
draw from one at a time (:meth:`ServedEmulator.fresh_task`), so every successful cancel
uses its own task and tests never see each other's changes, in any order.
"""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from taskcancel.testing import PROXY_VARIABLES as PROXY_VARIABLES  # re-exported for the tests
from taskcancel.testing import ServeProcess
from taskcancel.testing import clean_env as clean_env  # re-exported for the tests

KEY_ID, SECRET = "testid", "testsecret"
OTHER_KEY_ID, OTHER_SECRET = "other", "othersecret"

HANGZHOU = "cn-hangzhou"
SHANGHAI = "cn-shanghai"
REGIONS = (HANGZHOU, SHANGHAI, "ap-southeast-1")
UNKNOWN_REGION = "xx-nowhere-9"  # not in the world's Regions

# Read-only tasks in cn-hangzhou, one per rejection; no test may cancel them successfully.
FINISHED = "t-ro-finished"  # ImportImage, Finished -> INCORRECT_TASK_STATUS
WAITING = "t-ro-waiting"  # ExportImage, Waiting -> INCORRECT_TASK_STATUS
REDEPLOY = "t-ro-redeploy"  # RedeployInstance, Processing -> ACTION_NOT_SUPPORTED
FAILS = "t-ro-cancel-fails"  # ImportImage, Processing, CancelFails -> CANCEL_FAILED
OTHERS = "t-ro-other-account"  # ImportImage, Processing, owned by "other" -> TASK_NOT_FOUND
MISSING = "t-ro-does-not-exist"  # no such task anywhere -> TASK_NOT_FOUND
IN_SHANGHAI = "t-sh-import-processing"  # exists in cn-shanghai only
WEIRD = "t-a b*c~d/e+f&g=h%\u00e9"  # Finished; every character the SDKs encode differently

FRESH_COUNT = 300  # t-fresh-0000 ... : Processing ImportImage (even) / ExportImage (odd)
CREATED = "2026-11-27T10:00Z"

# cn-shanghai: a fixed mix for DescribeTasks filters; never cancelled by any test.
SHANGHAI_TASKS: tuple[tuple[str, str, str, str], ...] = (
    # TaskId, TaskAction, TaskStatus, CreationTime
    ("t-sh-import-processing", "ImportImage", "Processing", "2026-11-20T08:00Z"),
    ("t-sh-export-finished", "ExportImage", "Finished", "2026-11-21T08:00Z"),
    ("t-sh-import-failed", "ImportImage", "Failed", "2026-11-22T08:00Z"),
    ("t-sh-redeploy-processing", "RedeployInstance", "Processing", "2026-11-23T08:00Z"),
    ("t-sh-disk-waiting", "ModifyDiskSpec", "Waiting", "2026-11-24T08:00Z"),
)
SHANGHAI_OTHER = "t-sh-other-account"  # Processing ImportImage owned by "other"


@dataclass(frozen=True)
class Expected:
    code: str
    http_status: int
    message: str


_MISSING_REGION = (
    'An input parameter "RegionId" that is mandatory for processing the request is not supplied.'
)
_MISSING_TASK = (
    'An input parameter "TaskId" that is mandatory for processing the request is not supplied.'
)
_CANCEL_FAILED = "The task is failed to cancel, Please contact the administrator."

#: The CancelTask API page's error tables, old and current (docs/contract.md), written out
#: independently of taskcancel's own catalogue: reason name -> profile -> what the caller
#: must see.
EXPECTED: dict[str, dict[str, Expected]] = {
    "MISSING_REGION_ID": {
        "2017": Expected("MissingParameter", 400, _MISSING_REGION),
        "current": Expected("MissingParameter", 400, _MISSING_REGION),
    },
    "MISSING_TASK_ID": {
        "2017": Expected("MissingParameter", 400, _MISSING_TASK),
        "current": Expected("MissingParameter", 400, _MISSING_TASK),
    },
    "REGION_NOT_FOUND": {
        "2017": Expected("RegionId.NotFound", 400, "The specified region is not found."),
        "current": Expected(
            "InvalidRegionId.NotFound", 400, "The specified RegionId does not exist."
        ),
    },
    "TASK_NOT_FOUND": {
        "2017": Expected("InvalidTaskId.NotFound", 400, "The specified taskId is not found."),
        "current": Expected("InvalidTaskId.NotFound", 400, 'The specified "TaskId" is not found.'),
    },
    "ACTION_NOT_SUPPORTED": {
        "2017": Expected("TaskActionNotSupport", 400, "The specified task action is not support"),
        "current": Expected(
            "InvalidTaskId.TaskActionNotSupport", 403, "The specified task action not support."
        ),
    },
    "INCORRECT_TASK_STATUS": {
        "2017": Expected("IncorrectTaskStatus", 403, "The specified task status is not invalid."),
        "current": Expected(
            "InvalidTaskId.IncorrectTaskStatus", 403, "The specified task status is invalid."
        ),
    },
    "CANCEL_FAILED": {
        "2017": Expected("CancelTaskFailed", 400, _CANCEL_FAILED),
        "current": Expected("CancelTaskFailed", 403, _CANCEL_FAILED),
    },
}

#: (RegionId, TaskId, reason) for CancelTask against the fixture world; None = not sent.
REJECTIONS: tuple[tuple[str | None, str | None, str], ...] = (
    (None, "t-anything", "MISSING_REGION_ID"),
    (HANGZHOU, None, "MISSING_TASK_ID"),
    (UNKNOWN_REGION, FINISHED, "REGION_NOT_FOUND"),
    (HANGZHOU, MISSING, "TASK_NOT_FOUND"),
    (HANGZHOU, OTHERS, "TASK_NOT_FOUND"),  # another account's task is never revealed
    (SHANGHAI, FINISHED, "TASK_NOT_FOUND"),  # exists, but in another region
    (HANGZHOU, REDEPLOY, "ACTION_NOT_SUPPORTED"),
    (HANGZHOU, FINISHED, "INCORRECT_TASK_STATUS"),
    (HANGZHOU, WAITING, "INCORRECT_TASK_STATUS"),
    (HANGZHOU, FAILS, "CANCEL_FAILED"),
)

REQUEST_ID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def fresh_id(n: int) -> str:
    return f"t-fresh-{n:04d}"


def fixture_world() -> dict[str, Any]:
    """The world file every served emulator of the suite starts with (its format:
    docs/emulator.md, "The world file")."""
    tasks: list[dict[str, Any]] = [
        {
            "TaskId": fresh_id(n),
            "RegionId": HANGZHOU,
            "TaskAction": "ImportImage" if n % 2 == 0 else "ExportImage",
            "TaskStatus": "Processing",
            "CreationTime": CREATED,
        }
        for n in range(FRESH_COUNT)
    ]

    def task(task_id: str, action: str, status: str, **extra: Any) -> dict[str, Any]:
        return {
            "TaskId": task_id,
            "RegionId": HANGZHOU,
            "TaskAction": action,
            "TaskStatus": status,
            "CreationTime": CREATED,
            **extra,
        }

    tasks += [
        task(FINISHED, "ImportImage", "Finished", FinishedTime="2026-11-27T11:00Z"),
        task(WAITING, "ExportImage", "Waiting"),
        task(REDEPLOY, "RedeployInstance", "Processing"),
        task(FAILS, "ImportImage", "Processing", CancelFails=True),
        task(OTHERS, "ImportImage", "Processing", AccessKeyId=OTHER_KEY_ID),
        task(WEIRD, "ImportImage", "Finished"),
    ]
    for task_id, action, status, created in SHANGHAI_TASKS:
        tasks.append(
            {
                "TaskId": task_id,
                "RegionId": SHANGHAI,
                "TaskAction": action,
                "TaskStatus": status,
                "AccessKeyId": KEY_ID,
                "CreationTime": created,
            }
        )
    tasks.append(
        {
            "TaskId": SHANGHAI_OTHER,
            "RegionId": SHANGHAI,
            "TaskAction": "ImportImage",
            "TaskStatus": "Processing",
            "AccessKeyId": OTHER_KEY_ID,
            "CreationTime": "2026-11-25T08:00Z",
        }
    )
    return {
        "Regions": list(REGIONS),
        "Accounts": [
            {"AccessKeyId": KEY_ID, "AccessKeySecret": SECRET},
            {"AccessKeyId": OTHER_KEY_ID, "AccessKeySecret": OTHER_SECRET},
        ],
        "Tasks": tasks,
    }


def taskcancel_command(*args: str) -> list[str]:
    """``python -m taskcancel.cli ARGS`` with this interpreter (no PATH lookups)."""
    return [sys.executable, "-m", "taskcancel.cli", *args]


class ServedEmulator(ServeProcess):
    """A ``taskcancel serve`` process over a world file, with the fixture world's pool."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        log_path: Path,
        timeout: float = 30.0,
        profile: str = "2017",
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(args, env=env, log_path=log_path, timeout=timeout)
        self.profile = profile
        self._fresh = itertools.count()
        self._lock = threading.Lock()

    @property
    def log_path(self) -> Path:
        path = super().log_path
        assert path is not None  # always given
        return path

    def fresh_task(self) -> str:
        """A Processing ImportImage or ExportImage task id that no other test uses."""
        with self._lock:
            n = next(self._fresh)
        if n >= FRESH_COUNT:
            raise RuntimeError("fixture world ran out of fresh tasks; raise FRESH_COUNT")
        return fresh_id(n)


_STARTED: dict[int, ServedEmulator] = {}  # by pid, so stop_serve(served.process) works


def start_serve(
    args: Sequence[str],
    *,
    log_path: Path,
    timeout: float = 30.0,
    profile: str = "2017",
    env: Mapping[str, str] | None = None,
) -> ServedEmulator:
    """Start ``taskcancel serve ARGS``; return once it printed ``listening on``.

    :meth:`ServeProcess.start`: stderr goes to ``log_path``; RuntimeError with the
    output if the server does not come up.
    """
    served = ServedEmulator(args, log_path=log_path, timeout=timeout, profile=profile, env=env)
    served.start()
    _STARTED[served.process.pid] = served
    return served


def stop_serve(process: subprocess.Popen[str] | ServeProcess) -> int | None:
    """Stop a server of :func:`start_serve` (SIGTERM, then SIGKILL); its exit status."""
    if isinstance(process, ServeProcess):
        _STARTED.pop(process.process.pid, None)
        return process.stop()
    served = _STARTED.pop(process.pid, None)
    if served is None:
        raise ValueError(f"process {process.pid} was not started by start_serve")
    return served.stop()


class ServePool:
    """At most one ``taskcancel serve`` process per profile, started on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.world_path = write_world(directory / "world.json")
        self._servers: dict[str, ServedEmulator] = {}
        self._lock = threading.Lock()

    def get(self, profile: str) -> ServedEmulator:
        with self._lock:
            server = self._servers.get(profile)
            if server is None or server.process.poll() is not None:
                server = start_serve(
                    ["--port", "0", "--world", str(self.world_path), "--profile", profile],
                    log_path=self.directory / f"serve-{profile}.log",
                    profile=profile,
                )
                self._servers[profile] = server
            return server

    def close(self) -> None:
        for server in self._servers.values():
            stop_serve(server)
        self._servers.clear()


def write_world(path: Path, world: dict[str, Any] | None = None) -> Path:
    path.write_text(json.dumps(world if world is not None else fixture_world(), indent=1))
    return path
