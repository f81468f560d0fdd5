"""``ServeProcess``: ``taskcancel serve`` as a real subprocess, for end-to-end tests.

The subprocess twin of :class:`~taskcancel.testing.EmulatorServer`: the command a user
runs, with its flags, its banner, its signals and its exit status. It starts
``python -m taskcancel.cli serve ARGS`` with this interpreter (no ``PATH`` lookup), in
an environment without proxy variables (:func:`clean_env`), and returns once the server
printed ``listening on http://HOST:PORT``. stdout is read by a daemon thread, so the
pipe never fills; stderr (the log) goes to a file.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Self
from urllib.parse import urlsplit

__all__ = ["PROXY_VARIABLES", "ServeProcess", "clean_env"]

#: The proxy variables to unset around calls to a local emulator: both official SDKs
#: read them themselves and would send even loopback calls through the proxy (they
#: ignore ``NO_PROXY``).
PROXY_VARIABLES: tuple[str, ...] = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)

_LISTENING = re.compile(r"listening on (http://\S+)")
_NOT_STARTED = "ServeProcess has not started: call start(), or use it in a with statement"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without :data:`PROXY_VARIABLES`, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in PROXY_VARIABLES}
    env.update(extra)
    return env


class ServeProcess:
    """Run ``taskcancel serve ARGS``: ``with ServeProcess(["--port", "0"]) as served: ...``.

    ``env`` is the whole environment of the process (default :func:`clean_env`);
    ``PYTHONUNBUFFERED=1`` is added to it. stderr is written to ``log_path`` (default: a
    temporary file, removed by :meth:`stop` after keeping its text for
    :meth:`log_text`). :meth:`start` waits up to ``timeout`` seconds for the
    ``listening on`` line and raises :class:`RuntimeError` with everything the process
    printed if it does not come. ``command`` replaces ``python -m taskcancel.cli serve``
    with another program that prints the same line (a benchmark's server, say).
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        timeout: float = 30.0,
        command: Sequence[str] | None = None,
    ) -> None:
        if isinstance(args, str):
            raise TypeError(f"args must be a sequence of strings, not the string {args!r}")
        prefix = [sys.executable, "-m", "taskcancel.cli", "serve"] if command is None else command
        #: The command line run by :meth:`start`.
        self.command: list[str] = [*prefix, *args]
        self.timeout = timeout
        self._env = {**(clean_env() if env is None else env), "PYTHONUNBUFFERED": "1"}
        self._log_path = log_path
        self._owns_log = log_path is None
        self._final_log: str | None = None
        self._process: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None
        self._changed = threading.Condition()
        self._stdout: list[str] = []
        self._eof = False
        self._banner: list[str] = []
        self._endpoint = ""

    def __repr__(self) -> str:
        state = "not started" if self._process is None else self._endpoint or "starting"
        if self._process is not None and self._process.returncode is not None:
            state = f"exited {self._process.returncode}"
        return f"<ServeProcess {state}: {shlex.join(self.command)}>"

    # -- where it listens -----------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``http://HOST:PORT``, as printed on the ``listening on`` line."""
        if not self._endpoint:
            raise RuntimeError(_NOT_STARTED)
        return self._endpoint

    @property
    def host(self) -> str:
        """The host of :attr:`endpoint` (an IPv6 address without brackets)."""
        return urlsplit(self.endpoint).hostname or ""

    @property
    def port(self) -> int:
        """The real port of :attr:`endpoint` (never 0)."""
        return urlsplit(self.endpoint).port or 0

    @property
    def netloc(self) -> str:
        """``HOST:PORT``, the form the new SDK's ``Config.endpoint`` wants."""
        return urlsplit(self.endpoint).netloc

    @property
    def banner(self) -> list[str]:
        """The stdout lines up to and including ``listening on ...``."""
        if not self._endpoint:
            raise RuntimeError(_NOT_STARTED)
        return list(self._banner)

    @property
    def process(self) -> subprocess.Popen[str]:
        """The :class:`subprocess.Popen` of the server."""
        if self._process is None:
            raise RuntimeError(_NOT_STARTED)
        return self._process

    @property
    def log_path(self) -> Path | None:
        """The file stderr goes to (``None`` before start when none was given)."""
        return self._log_path

    def log_text(self) -> str:
        """What the server wrote to stderr so far (all of it, after :meth:`stop`)."""
        if self._final_log is not None:
            return self._final_log
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(encoding="utf-8", errors="replace")

    # -- life cycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the process; return once it printed its ``listening on`` line."""
        if self._process is not None:
            raise RuntimeError(f"ServeProcess already started: {self!r}")
        if self._log_path is None:
            handle, name = tempfile.mkstemp(prefix="taskcancel-serve-", suffix=".log")
            os.close(handle)
            self._log_path = Path(name)
        with self._log_path.open("w", encoding="utf-8") as log:
            self._process = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=self._env,
            )
        assert self._process.stdout is not None
        self._pump = threading.Thread(
            target=self._read, args=(self._process.stdout,), name="serve-stdout", daemon=True
        )
        self._pump.start()
        problem = self._await_listening()
        if problem is not None:
            self.stop()
            raise RuntimeError(self._failure(problem))
        return self

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._changed:
                self._stdout.append(line.rstrip("\r\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def _await_listening(self) -> str | None:
        """``None`` once ``listening on`` was printed, else why it never will be."""
        deadline = time.monotonic() + self.timeout
        seen = 0
        with self._changed:
            while True:
                for line in self._stdout[seen:]:
                    seen += 1
                    match = _LISTENING.fullmatch(line)
                    if match:
                        self._banner = self._stdout[:seen]
                        self._endpoint = match.group(1)
                        return None
                if self._eof:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return f"no 'listening on' line within {self.timeout:g} s"
                self._changed.wait(remaining)
        try:  # its stdout closed: it is exiting, or has exited
            status = self.process.wait(timeout=min(self.timeout, 10.0))
        except subprocess.TimeoutExpired:
            return "it closed its stdout without a 'listening on' line"
        return f"it exited with status {status}"

    def _failure(self, problem: str) -> str:
        with self._changed:
            stdout = "\n".join(self._stdout)
        return (
            f"taskcancel serve did not start ({problem}): {shlex.join(self.command)}\n"
            f"--- stdout ---\n{stdout}\n--- stderr ({self._log_path}) ---\n{self.log_text()}"
        )

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` (``signal.SIGINT``, ``SIGTERM``, ``SIGKILL``...) to the server."""
        self.process.send_signal(sig)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to exit; its exit status (raises on ``timeout``)."""
        return self.process.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; reap it. Its exit status.

        Safe to call more than once, and before :meth:`start` (then ``None``).
        """
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout)
        if self._pump is not None:
            self._pump.join(timeout)  # EOF follows the exit, unless a child holds the pipe
            if not self._pump.is_alive() and process.stdout is not None:
                process.stdout.close()
        if self._owns_log and self._final_log is None and self._log_path is not None:
            self._final_log = self.log_text()
            self._log_path.unlink(missing_ok=True)
        return process.returncode

    def __enter__(self) -> Self:
        if self._process is None:
            self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
