"""``serve``'s options: each a flag and a ``TASKCANCEL_*`` variable; a flag beats its variable.

:func:`add_options` declares the flags (their help names the default and the variable);
:func:`settle` fills what no flag gave from the environment, then the defaults, checking
each variable's value as its flag's is checked, and remembers where each value came from
(:func:`origin`) so that a later error (a world file, a store, a port in use) names it.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._core._model import parse_time
from ..catalogue import PROFILES

if TYPE_CHECKING:
    from ..server import Settings

__all__ = ["LOG_FORMATS", "LOG_LEVELS", "OPTIONS", "add_options", "origin", "settings", "settle"]

#: The values of --log-level and --log-format: those of ``taskcancel.server._log``, which
#: is not imported here (that would import the whole server, and asyncio, for every
#: command); a unit test holds the two equal.
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")


def _access_keys(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(","):
        key_id, sep, secret = item.strip().partition(":")
        if not sep or not key_id or not secret:
            raise ValueError(f"expected ID:SECRET[,ID:SECRET...], got {_masked_keys(item)!r}")
        pairs.append((key_id, secret))
    return pairs


def _masked_keys(text: str) -> str:
    """Access keys as shown in an error: every secret (after the first ``:``) as ``***``."""
    return ",".join(
        key_id + (":***" if secret else sep)
        for key_id, sep, secret in (item.partition(":") for item in text.split(","))
    )


_DIGITS = re.compile(r"[0-9]{1,5}")


def _port(text: str) -> int:
    if not _DIGITS.fullmatch(text) or int(text) > 65535:
        raise ValueError("must be a port number 0..65535 (0 picks a free one)")
    return int(text)


def _choice(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text.lower()

    return check


def _clock(text: str) -> str:
    kind, _, start = text.partition("=")
    if kind not in ("system", "fake") or (start and kind != "fake"):
        raise ValueError("must be system, fake or fake=2026-01-01T00:00:00Z")
    if start:
        try:
            parse_time(start)
        except ValueError:
            raise ValueError(
                f"fake clock start {start!r} is not like 2026-01-01T00:00:00Z"
            ) from None
    return text


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError("must be an integer") from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError("must be a number of seconds") from None
    if not 0 < value <= 3600:
        raise ValueError("must be more than 0 and at most 3600 seconds")
    return value


def _switch(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    # Empty is refused like every other empty variable, not read as "off".
    raise ValueError("must be 1/true/yes/on or 0/false/no/off")


def _count(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise ValueError("must be a whole number >= 0")
    return int(text)


def _text(text: str) -> str:
    if not text:
        raise ValueError("must not be empty")
    return text


#: dest -> (variable, converter, default, help)
OPTIONS: dict[str, tuple[str, Callable[[str], Any], Any, str]] = {
    "host": ("TASKCANCEL_HOST", _text, "127.0.0.1", "address to bind"),
    "port": ("TASKCANCEL_PORT", _port, 8080, "port; 0 picks a free one"),
    "world": ("TASKCANCEL_WORLD", _text, None, "world file (JSON) to seed the store"),
    "store": ("TASKCANCEL_STORE", _text, None, "keep state in SQLite at this path"),
    "store_timeout": (
        "TASKCANCEL_STORE_TIMEOUT",
        _seconds,
        5.0,
        "seconds a write waits for a lock held elsewhere before ServiceUnavailable (503);"
        " below the official SDKs' 10 s read timeout",
    ),
    "shutdown_timeout": (
        "TASKCANCEL_SHUTDOWN_TIMEOUT",
        _seconds,
        5.0,
        "seconds a stop (SIGTERM, Ctrl-C) waits for the answers still owed; then the"
        " connections still open are cut off",
    ),
    "profile": ("TASKCANCEL_PROFILE", _choice(*sorted(PROFILES)), "2017", "error profile"),
    "log_level": (
        "TASKCANCEL_LOG_LEVEL",
        _choice(*LOG_LEVELS),
        "info",
        f"{', '.join(LOG_LEVELS)}: request lines at info, with their parameters at debug",
    ),
    "log_format": (
        "TASKCANCEL_LOG_FORMAT",
        _choice(*LOG_FORMATS),
        "text",
        "text, or json: one object per line (on stderr)",
    ),
    "seed": (
        "TASKCANCEL_SEED",
        _seed,
        None,
        "seed new tasks' ids and every fault draw",
    ),
    "clock": ("TASKCANCEL_CLOCK", _clock, "system", "task lifecycle clock: system or fake[=START]"),
    "control_token": (
        "TASKCANCEL_CONTROL_TOKEN",
        _text,
        None,
        "require 'Authorization: Bearer TOKEN' on the control plane (and allow it off loopback)",
    ),
    "no_control": (
        "TASKCANCEL_NO_CONTROL",
        _switch,
        False,
        "turn the /_taskcancel/ control plane off (health stays)",
    ),
    "access_keys": (
        "TASKCANCEL_ACCESS_KEYS",
        _access_keys,
        None,
        "accept these AccessKey pairs too: ID:SECRET[,ID:SECRET...]; repeatable",
    ),
    "journal_size": (
        "TASKCANCEL_JOURNAL_SIZE",
        _count,
        10_000,
        "keep the newest N requests in the journal (GET /_taskcancel/requests); 0 turns it off",
    ),
    "journal_file": (
        "TASKCANCEL_JOURNAL_FILE",
        _text,
        None,
        "also append every journal entry to this file as one JSON line",
    ),
}

#: Options whose values are secrets: an error shows them masked.
_SECRET = {"control_token": lambda text: "***" if text else text, "access_keys": _masked_keys}


def _flag(dest: str) -> str:
    return "--access-key" if dest == "access_keys" else "--" + dest.replace("_", "-")


#: How each option's value is shown in ``--help``.
_METAVARS = {
    "world": "FILE",
    "store": "PATH",
    "store_timeout": "SECONDS",
    "shutdown_timeout": "SECONDS",
    "profile": "2017|current",
    "log_level": "LEVEL",
    "log_format": "text|json",
    "seed": "N",
    "clock": "system|fake[=START]",
    "control_token": "TOKEN",
    "access_keys": "ID:SECRET",
    "journal_size": "N",
    "journal_file": "PATH",
}
#: Defaults that are not a value of the option.
_SHOWN = {"world": "the demo world", "store": "in memory", "clock": "system (fake starts at "
          "2026-01-01T00:00:00Z)"}  # fmt: skip


def add_options(serve: argparse.ArgumentParser) -> None:
    """Declare every option of :data:`OPTIONS` on the ``serve`` parser."""
    for dest, (variable, convert, default, text) in OPTIONS.items():
        shown = _SHOWN.get(dest, "none" if default is None else default)
        help_text = f"{text} (default: {shown}; env {variable})"
        if convert is _switch:  # a flag without a value; its variable takes 1 or 0
            serve.add_argument(
                _flag(dest), dest=dest, action="store_const", const=True, default=None,
                help=f"{text} (env {variable}=1)",
            )  # fmt: skip
            continue
        serve.add_argument(
            _flag(dest),
            dest=dest,
            metavar=_METAVARS.get(dest, dest.upper()),
            action="append" if dest == "access_keys" else "store",
            type=_argtype(dest, convert),
            default=None,
            help=help_text,
        )


def _argtype(dest: str, convert: Callable[[str], Any]) -> Callable[[str], Any]:
    mask = _SECRET.get(dest, str)

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{mask(text)!r}: {exc}") from None

    return parse


def settle(args: argparse.Namespace) -> str | None:
    """Fill unset options from the environment, then defaults; the first error, if any.

    The error names the variable, its value (secrets masked) and the reason.
    """
    sources: dict[str, str] = {}
    for dest, (variable, convert, default, _) in OPTIONS.items():
        value = getattr(args, dest)
        if value is not None:
            sources[dest] = _flag(dest)
            if dest == "access_keys":
                value = [pair for pairs in value for pair in pairs]
        elif variable in os.environ:
            raw = os.environ[variable]
            try:
                value = convert(raw)
            except ValueError as exc:
                return f"{variable}={_SECRET.get(dest, str)(raw)!r}: {exc}"
            sources[dest] = variable
        setattr(args, dest, default if value is None else value)
    if args.access_keys is None:
        args.access_keys = []
    args.sources = sources
    return None


def origin(args: argparse.Namespace, dest: str) -> str:
    """Where ``dest``'s value came from: its variable, its flag, or ``""`` (the default)."""
    sources: dict[str, str] = getattr(args, "sources", {})
    return sources.get(dest, "")


def settings(args: argparse.Namespace, *, version: str = "") -> Settings:
    """The server's :class:`~taskcancel.server.Settings` from settled ``args``."""
    from ..server import Settings  # serve's own import: other commands never load the server

    return Settings(
        profile=args.profile,
        seed=args.seed,
        control=False if args.no_control else None,
        control_token=args.control_token,
        debug=args.log_level == "debug",
        version=version,
        journal_size=args.journal_size,
        journal_file=args.journal_file,
        shutdown_timeout=args.shutdown_timeout,
    )
