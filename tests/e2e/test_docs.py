"""Every code block in README.md, CONTRIBUTING.md and docs/*.md runs, page by page.

Each page gets a fresh ``taskcancel serve --port 0 --clock fake`` (the demo world) and its
blocks run in order against it, with ``127.0.0.1:8080`` replaced by the server's address:

- ``python``: executed; a block that defines ``test_`` functions is a pytest file, and
  the page's such blocks run in one pytest process (the plugin's fixtures available);
- ``sh``: ``bash -e -o pipefail`` in a scratch directory, with ``ENDPOINT`` and
  ``TASKCANCEL_ENDPOINT`` set, the demo key in ``ALIBABA_CLOUD_ACCESS_KEY_*``, no proxy
  variables, and this Python's ``taskcancel`` first on ``PATH``;
- ``js``: run by ``node`` with the official SDK (the npm packages the Node.js example
  test installs into ``~/.cache/taskcancel/``);
- ``json``: parsed; a world file (``Regions``/``Accounts``/``Tasks``) is loaded and checked;
- anything else must say why it does not run: ``<!-- docs-test: skip REASON -->`` on the
  line before it. ``<!-- docs-test: pending REASON -->`` marks a block of a feature that
  has not landed: the page's test reports it as skipped with REASON.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from support.pytest_run import run_pytest

from taskcancel.testing import PROXY_VARIABLES, ServeProcess, clean_env

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")],
    key=lambda path: str(path.relative_to(ROOT)),
)
RUNNABLE = {"python", "sh", "js", "json", "yaml"}
_FENCE = re.compile(r"^```([A-Za-z]*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)
_MARKER = re.compile(r"<!-- docs-test: (skip|pending) (.+?) -->\s*$")
_DEMO_ADDRESS = "127.0.0.1:8080"
#: Files a page links to that another part of the work is still making, and why.
PENDING_FILES: dict[str, str] = {}


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    language: str
    code: str
    marker: str | None  # "skip" | "pending" | None
    reason: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of ``page``, each with the marker on the line before it."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = _MARKER.search(before)
        found.append(
            Block(
                page,
                line,
                match.group(1),
                match.group(2),
                marker.group(1) if marker else None,
                marker.group(2) if marker else "",
            )
        )
    return found


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.fixture(scope="module")
def node_path() -> str | None:
    """NODE_PATH of the official Node.js SDK: the packages the Node.js example's test
    installs (``npm ci`` of ``examples/node``'s lock, once, into ``~/.cache/taskcancel/``);
    None when node or npm is missing outside CI."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    try:
        kit = importlib.import_module("test_node_sdk")  # beside this file, or in tests/
    except ImportError:  # moved or renamed: take whatever it installed
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "taskcancel"
        found = sorted(cache.glob("npm-*/node_modules/@alicloud/ecs20140526/package.json"))
        return str(found[-1].parents[2]) if found else None
    target = kit._cache_root() / f"npm-{kit._lock_key()}"
    if not kit._installed(target):
        kit._npm_ci(shutil.which("npm"), target)  # fails under CI, skips elsewhere
    return str(target / "node_modules")


def test_every_block_runs_or_says_why_not() -> None:
    problems = []
    for page in PAGES:
        for block in blocks(page):
            if block.marker is None and block.language not in RUNNABLE:
                problems.append(
                    f"{block.where}: a ```{block.language or '(no language)'} block that "
                    "nothing runs: give it a runnable language or a docs-test marker with a "
                    "reason"
                )
    assert not problems, "\n".join(problems)


def test_a_wait_for_the_listening_line_never_reads_a_file_that_is_not_there_yet() -> None:
    # `cmd > serve.out &` creates the file in the child, which may not have run yet.
    loops = [
        (block.where, line)
        for page in PAGES
        for block in blocks(page)
        if block.language == "sh"
        for line in block.code.splitlines()
        if re.search(r"\buntil grep\b", line)
    ]
    assert loops, "the docs show how to wait for the listening line"
    careless = [f"{where}: {line}" for where, line in loops if not re.search(r"grep -\w*s", line)]
    assert not careless, "grep without -s complains while the file is missing:\n" + "\n".join(
        careless
    )


def test_the_pages_link_only_to_files_that_exist() -> None:
    missing = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if "://" in target or target.startswith("mailto:"):
                continue
            path = (page.parent / target).resolve()
            name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
            if not path.exists() and name not in PENDING_FILES:
                missing.append(f"{_page_id(page)}: {target}")
    assert not missing, "\n".join(missing)


def _pages_with_examples() -> list[Path]:
    return [page for page in PAGES if any(b.language in RUNNABLE and b.marker != "skip"
                                          for b in blocks(page))]  # fmt: skip


@pytest.mark.parametrize("page", _pages_with_examples(), ids=_page_id)
def test_the_examples_of_the_page_run(
    page: Path, tmp_path: Path, node_path: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    page_blocks = [b for b in blocks(page) if b.language in RUNNABLE and b.marker != "skip"]
    pending = [b for b in page_blocks if b.marker == "pending"]
    runnable = [b for b in page_blocks if b.marker is None]
    for name in PROXY_VARIABLES:  # both official SDKs honour proxies and ignore NO_PROXY
        monkeypatch.delenv(name, raising=False)
    with ServeProcess(["--port", "0", "--clock", "fake", "--log-level", "warning"]) as served:
        address = served.endpoint.removeprefix("http://")
        tests = []
        unrun = [f"{b.where}: pending: {b.reason}" for b in pending]
        for index, block in enumerate(runnable):
            code = block.code.replace(_DEMO_ADDRESS, address)
            if block.language == "python" and _defines_tests(code):
                tests.append((block, code))
            elif block.language == "js" and node_path is None:
                if os.environ.get("CI", "").lower() == "true":
                    pytest.fail(f"{block.where}: node and npm are needed under CI=true")
                unrun.append(f"{block.where}: node or npm is not installed")
            else:
                _run(block, code, served.endpoint, tmp_path / f"block{index}", node_path)
        if tests:
            _run_pytest(tests, tmp_path / "pytest")
        # A pending block is tried too: once its feature has landed it passes, and its
        # marker must go, so the page's example is held to it from then on.
        landed = [
            block.where
            for index, block in enumerate(pending)
            if _passes(block, block.code.replace(_DEMO_ADDRESS, address), served.endpoint,
                       tmp_path / f"pending{index}", node_path)
        ]  # fmt: skip
    assert not landed, f"these blocks run now: remove their docs-test: pending marker: {landed}"
    if unrun:  # everything else ran and passed
        pytest.skip("; ".join(sorted(unrun)))


def _passes(block: Block, code: str, endpoint: str, scratch: Path, node_path: str | None) -> bool:
    """Whether a pending block runs as written (its feature has landed)."""
    if block.language == "js" and node_path is None:
        return False
    try:
        if block.language == "python" and _defines_tests(code):
            _run_pytest([(block, code)], scratch)
        else:
            _run(block, code, endpoint, scratch, node_path)
    except (Exception, pytest.fail.Exception):
        return False
    return True


def _defines_tests(code: str) -> bool:
    tree = ast.parse(code)
    return any(
        isinstance(node, ast.FunctionDef) and node.name.startswith("test_") for node in tree.body
    )


def _run(block: Block, code: str, endpoint: str, scratch: Path, node_path: str | None) -> None:
    scratch.mkdir(parents=True)
    if block.language == "python":
        exec(compile(code, block.where, "exec"), {"__name__": "docs_example"})
    elif block.language == "sh":
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", code],
            cwd=scratch,
            env=_shell_env(endpoint, scratch.parent / "bin"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, f"{block.where}: exit {result.returncode}\n" + (
            result.stdout + result.stderr
        )
    elif block.language == "js":
        _run_node(block, code, scratch, node_path)
    elif block.language == "json":
        _check_json(block, code)
    elif block.language == "yaml":
        _check_yaml(block, code)


def _shell_env(endpoint: str, shims: Path) -> dict[str, str]:
    env = clean_env(
        ENDPOINT=endpoint,
        TASKCANCEL_ENDPOINT=endpoint,
        ALIBABA_CLOUD_ACCESS_KEY_ID="testid",
        ALIBABA_CLOUD_ACCESS_KEY_SECRET="testsecret",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        ),
    )
    # `taskcancel` and `python3` are this interpreter's (a shim keeps PYTHONPATH's tree).
    shims.mkdir(exist_ok=True)
    for name, command in (("taskcancel", "-m taskcancel"), ("python3", "")):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    env["PATH"] = os.pathsep.join([str(shims), env.get("PATH", "")])
    return env


def _run_node(block: Block, code: str, scratch: Path, node_path: str | None) -> None:
    assert node_path is not None
    program = scratch / "example.js"
    program.write_text(code, encoding="utf-8")
    result = subprocess.run(
        ["node", str(program)],
        cwd=scratch,
        env=clean_env(NODE_PATH=node_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stdout}{result.stderr}"


def _check_json(block: Block, code: str) -> None:
    try:
        document = json.loads(code)
    except json.JSONDecodeError as exc:
        pytest.fail(f"{block.where}: not JSON: {exc}")
    if not isinstance(document, dict):
        return
    if {"Regions", "Accounts", "Tasks"} & set(document):
        from taskcancel.worldfile import parse_world

        parse_world(document, source=block.where, now=datetime(2026, 1, 1, tzinfo=UTC))
    elif "Rules" in document:  # a Faults object: fault rules
        from taskcancel.worldfile import parse_faults

        parse_faults(document, block.where, "Faults")


#: Variables a client (not ``serve``) reads.
_CLIENT_VARIABLES = {
    "TASKCANCEL_ENDPOINT",
    "TASKCANCEL_REAL_CLOUD",
    "TASKCANCEL_REAL_CLOUD_ENDPOINT",
}


def _check_yaml(block: Block, code: str) -> None:
    """Parsed; every ``TASKCANCEL_*`` name it sets is one that taskcancel reads."""
    import yaml  # type: ignore[import-untyped]

    from taskcancel.cli._serve_options import OPTIONS

    try:
        document = yaml.safe_load(code)
    except yaml.YAMLError as exc:
        pytest.fail(f"{block.where}: not YAML: {exc}")
    known = {variable for variable, *_ in OPTIONS.values()} | _CLIENT_VARIABLES
    named = set(re.findall(r"\bTASKCANCEL_[A-Z_]+\b", json.dumps(document)))
    assert named <= known, f"{block.where}: unknown variables {sorted(named - known)}"


def _run_pytest(tests: list[tuple[Block, str]], folder: Path) -> None:
    folder.mkdir()
    for index, (_, code) in enumerate(tests):
        (folder / f"test_docs_example_{index}.py").write_text(code, encoding="utf-8")
    result = run_pytest(folder, cwd=folder, env=clean_env(PYTHONPATH=str(ROOT)), timeout=600)
    where = ", ".join(block.where for block, _ in tests)
    assert result.returncode == 0, f"{where}:\n{result.stdout[-4000:]}{result.stderr[-2000:]}"


def test_the_coverage_table_lists_exactly_the_actions_the_emulator_answers() -> None:
    from taskcancel.api._actions import ACTIONS

    table = _coverage_rows()
    assert {action for action, _ in table} == set(ACTIONS)


def test_the_coverage_table_lists_exactly_the_parameters_each_action_reads() -> None:
    # ACTION_PARAMETERS is the code's own table (the journal's Ignored comes from it).
    from taskcancel.api._actions import ACTION_PARAMETERS

    listed: dict[str, set[str]] = {}
    for action, names in _coverage_rows():
        listed.setdefault(action, set()).update(names)
    assert listed == {action: set(names) for action, names in ACTION_PARAMETERS.items()}


def _coverage_rows() -> Iterator[tuple[str, list[str]]]:
    text = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    table = text[text.index("<!-- coverage-table -->") : text.index("<!-- /coverage-table -->")]
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            yield cells[0].strip("`"), re.findall(r"`([^`]+)`", cells[1])


def test_the_service_page_carries_the_generated_option_table() -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import hooks  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(ROOT / "docs"))
    from taskcancel.cli._serve_options import OPTIONS

    page = (ROOT / "docs" / "service.md").read_text(encoding="utf-8")
    assert hooks.SERVE_OPTIONS_MARKER in page
    built = hooks.on_page_markdown(page, None, None, None)
    for variable, *_ in OPTIONS.values():
        assert f"`{variable}`" in built


def test_the_emulator_page_lists_the_common_parameters_from_the_code() -> None:
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import hooks
    finally:
        sys.path.remove(str(ROOT / "docs"))
    from taskcancel.api._actions import COMMON_PARAMETERS

    page = (ROOT / "docs" / "emulator.md").read_text(encoding="utf-8")
    assert hooks.COMMON_PARAMETERS_MARKER in page
    built = hooks.on_page_markdown(page, None, None, None)
    for name in COMMON_PARAMETERS:
        assert f"`{name}`" in built
