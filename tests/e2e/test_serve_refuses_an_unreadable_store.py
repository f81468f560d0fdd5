"""``serve --store FILE`` refuses a store holding a row taskcancel cannot read: exit 2,
the ``FILE: table row N: field: reason`` message, no traceback. (The store's own refusal
is in tests/unit/store/test_store_sqlite_rows.py.)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from support.serve import clean_env, taskcancel_command
from support.stores import store_file, tamper


def test_serve_refuses_such_a_store_with_exit_2_and_no_traceback(tmp_path: Path) -> None:
    path = store_file(tmp_path / "store.db")
    tamper(path, "UPDATE tasks SET creation_time = ? WHERE task_id = 't-2'", "garbage")
    result = subprocess.run(
        taskcancel_command("serve", "--port", "0", "--store", str(path)),
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert f"{path}: tasks row 2: creation_time: 'garbage' is not a UTC time" in result.stderr
    assert "Traceback" not in result.stderr
    assert "listening on" not in result.stdout
