"""CI type-checks the tests and the benchmarks too (tests/e2e/test_readme.py checks that it
runs the README's test command verbatim)."""

from __future__ import annotations

from support import ROOT


def test_ci_type_checks_the_tests_and_the_benchmarks() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python3 -m mypy --strict taskcancel tests benchmarks" in ci
