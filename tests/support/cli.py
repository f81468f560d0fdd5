"""The ``taskcancel`` client commands run in this process, as a shell would run them.

Starting ``python -m taskcancel.cli`` costs about 0.3 s of CPU (the interpreter and the
imports); a test that checks what a command prints and its exit status does not need a
process of its own. :func:`run_cli` calls :func:`taskcancel.cli.main` with the environment a
process would get (the given variables, none of this process's ``TASKCANCEL_*`` or Aliyun
ones, no proxies) and returns what a process would have: its exit status, stdout and
stderr. The few tests that are about the process itself (``python -m``, a closed pipe,
Ctrl-C) still start one.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from collections.abc import Iterator, Mapping

from taskcancel.cli import main
from taskcancel.testing import clean_env

__all__ = ["cli_env", "run_cli"]

_OWN = ("TASKCANCEL_", "ALIBABA_CLOUD_", "ALIYUN_")


def cli_env(**env: str) -> dict[str, str]:
    """This process's environment without proxies or taskcancel/Aliyun variables, plus
    ``env``: what a client command run from a clean shell sees."""
    base = {k: v for k, v in clean_env().items() if not k.startswith(_OWN)}
    return {**base, **env}


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``taskcancel ARGS`` in this process with only the given taskcancel/Aliyun
    variables; argparse's exits (usage, ``--help``) are exit statuses, as in a shell."""
    out, err = io.StringIO(), io.StringIO()
    with (
        _environment(cli_env(**env)),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = main(list(args))
        except SystemExit as exit_:
            code = exit_.code
            if isinstance(code, str):  # as the interpreter does: the message, status 1
                err.write(code + "\n")
            status = code if isinstance(code, int) else (0 if code is None else 1)
    argv = ["taskcancel", *args]
    return subprocess.CompletedProcess(argv, status, out.getvalue(), err.getvalue())
