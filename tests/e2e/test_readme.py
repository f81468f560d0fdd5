"""The README's two quickstart commands: kept verbatim, and CI runs the second one as written.

Every other code block of the README (and of docs/) runs in tests/e2e/test_docs.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")

START = 'python3 -m pip install -e ".[server,client]" && python3 -m taskcancel serve'
SUITE = (
    'python3 -m pip install -e ".[test]" && python3 -m pytest tests/unit -n auto '
    "&& python3 -m pytest tests/e2e -n auto --dist loadfile"
)


def test_the_quickstart_starts_the_emulator_and_runs_the_suite_with_one_command_each() -> None:
    quickstart = README[README.index("## Quickstart") :]
    assert f"```sh\n{START}\n```" in quickstart
    assert f"```sh\n{SUITE}\n```" in quickstart
    assert quickstart.index(START) < quickstart.index(SUITE)


def test_ci_runs_the_readme_suite_command_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert SUITE in ci.splitlines()


def test_the_readme_stays_a_front_page() -> None:
    assert len(README.splitlines()) <= 300
    for history in ("issue ", "commit "):
        assert history not in README.lower()


def test_ci_stops_when_the_readme_suite_command_fails(tmp_path: Path) -> None:
    """``set -e`` ignores a failure inside an ``&&`` list: .ci/run must check it itself."""
    lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    at = lines.index(SUITE)
    end = next(i for i in range(at, len(lines)) if lines[i].strip() == "fi")
    script = ["set -euo pipefail", "true && false", *lines[at + 1 : end + 1], "echo reached"]
    path = tmp_path / "ci-part.sh"
    path.write_text("\n".join(script) + "\n", encoding="utf-8")
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "reached" not in done.stdout
