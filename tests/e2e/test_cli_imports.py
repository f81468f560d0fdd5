"""What a command imports: ``taskcancel --version``, ``--help`` and the client commands
never import the server (nor asyncio under it); ``serve`` imports it when it runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

_PROBE = """
import sys
from taskcancel import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
loaded = sorted(m for m in sys.modules if m == "asyncio" or m.startswith("taskcancel.server"))
print(" ".join(loaded) or "-")
"""


def _loaded_by(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        env=dict(os.environ, PYTHONPATH=str(REPO)),
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.stdout.strip().splitlines()[-1]


def test_version_and_help_import_neither_the_server_nor_asyncio() -> None:
    assert _loaded_by("--version") == "-"
    assert _loaded_by("--help") == "-"
    assert _loaded_by("cancel", "--help") == "-"
