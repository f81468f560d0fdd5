"""A pytest run of its own, in a fresh interpreter, for files a user would run.

Only taskcancel's plugin is loaded (as its ``pytest11`` entry point would load it), not
every plugin this environment has installed: autoloading them all (hypothesis, xdist,
...) costs about a second of CPU per run and tests nothing of ours. That the entry point
itself loads the plugin is tested where it is the subject (``test_wheel.py``,
``test_plugin.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["run_pytest"]


def run_pytest(
    *paths: Path,
    cwd: Path,
    env: Mapping[str, str],
    options: Sequence[str] = (),
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q OPTIONS PATHS`` with only taskcancel's plugin (and those
    ``options`` name with ``-p``); output captured."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "taskcancel.testing.plugin",
            *options,
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**env, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
        timeout=timeout,
    )
