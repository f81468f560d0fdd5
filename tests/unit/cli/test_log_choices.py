"""``serve``'s --log-level and --log-format accept exactly what the server's logs know."""

from __future__ import annotations

from taskcancel.cli import _serve_options
from taskcancel.server import _log


def test_the_serve_options_offer_the_servers_log_levels_and_formats() -> None:
    assert _serve_options.LOG_LEVELS == _log.LEVELS
    assert _serve_options.LOG_FORMATS == _log.FORMATS
