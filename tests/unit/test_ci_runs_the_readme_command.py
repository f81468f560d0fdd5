"""CI runs exactly the test command the README gives (so the README's command works)."""

from __future__ import annotations

import re

from support import ROOT


def test_ci_runs_the_readmes_test_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", quickstart, flags=re.S)
    [command] = [line for line in blocks[1].splitlines() if line.strip()]
    assert "pytest tests/unit" in command and "pytest tests/e2e" in command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci, f"{command!r} is not a line of .ci/run"


def test_ci_type_checks_the_tests_and_the_benchmarks() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 -m mypy --strict taskcancel tests benchmarks" in ci
