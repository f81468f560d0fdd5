"""Each core module, and the error catalogue over it, imports cleanly in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import taskcancel

CORE = ["_core._model", "_core._rules", "_core._exceptions", "_core._time", "catalogue"]


# ------------------------------------------- core isolation (purity: tests/unit/test_layers.py)


def test_core_modules_import_cleanly_in_isolation() -> None:
    """In a fresh interpreter, without running ``taskcancel/__init__.py``, the core
    modules import, and pull in no other taskcancel module and no third-party package
    but attrs."""
    package = Path(taskcancel.__file__).parent
    code = (
        "import sys, types\n"
        f"package = types.ModuleType('taskcancel'); package.__path__ = [{str(package)!r}]\n"
        "sys.modules['taskcancel'] = package\n"
        "before = set(sys.modules)\n"
        f"for name in {CORE!r}: __import__('taskcancel.' + name)\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.split()
    ours = {name for name in loaded if name.startswith("taskcancel")}
    assert ours == {"taskcancel._core"} | {f"taskcancel.{module}" for module in CORE}
    others = {name.split(".")[0] for name in loaded} - {"taskcancel"}
    assert {top for top in others if top not in sys.stdlib_module_names} <= {"attrs", "attr"}
