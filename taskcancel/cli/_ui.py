"""``taskcancel ui``: open the emulator's dashboard (``/_taskcancel/ui``) in a browser.

Opens the page with :mod:`webbrowser` when one is available, else (or with ``--print``)
prints its URL. Needs no token: the page asks for the control plane's token itself, in a
form field, and keeps it out of every URL. Exit 0 when opened or printed; 2 for a bad
``--endpoint``.
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from typing import Any
from urllib.parse import urlsplit

from ._exit import EXIT_OK, EXIT_USAGE

__all__ = ["add_parser", "page_url", "run"]


def add_parser(commands: Any) -> None:
    """Add ``ui`` to the subcommands ``commands``."""
    ui = commands.add_parser("ui", help="open the emulator's dashboard in a browser")
    # The default is state's and reset's (read when the command runs: --help and
    # --version import nothing of the server, which _control does).
    ui.add_argument(
        "--endpoint",
        default=os.environ.get("TASKCANCEL_ENDPOINT"),
        metavar="URL",
        help="the emulator's URL (default: $TASKCANCEL_ENDPOINT, else http://127.0.0.1:8080)",
    )
    ui.add_argument(
        "--print", action="store_true", help="print the page's URL instead of opening it"
    )


def page_url(endpoint: str | None) -> str:
    """The dashboard's URL on the emulator at ``endpoint`` (None: the control commands'
    default); ValueError names what is wrong."""
    from ._control import CONTROL_PREFIX, DEFAULT_CONTROL_ENDPOINT

    endpoint = DEFAULT_CONTROL_ENDPOINT if endpoint is None else endpoint
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--endpoint: {endpoint!r}: give http://HOST:PORT")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"--endpoint: {endpoint!r}: give only http://HOST:PORT (no query, fragment or "
            "credentials: the page asks for the control token itself)"
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}{CONTROL_PREFIX}ui"


def run(args: argparse.Namespace) -> int:
    try:
        url = page_url(args.endpoint)
    except ValueError as exc:
        print(f"taskcancel ui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.print:
        try:
            browser = webbrowser.get()
        except webbrowser.Error:  # none on this machine (a server, a container, CI)
            browser = None
        if browser is not None and browser.open(url):
            print(f"opened {url}")
            return EXIT_OK
    print(url)
    return EXIT_OK
