"""Times on the wire and in files: the one home of their formats. Pure: no clock reads.

ECS shows task times to the minute (``2026-01-01T10:00Z``); request timestamps and the
emulator's ``Now`` carry seconds (``2026-01-01T10:00:00Z``), the journal milliseconds.
All are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["as_utc", "format_millis", "format_time", "format_timestamp", "parse_time"]

_MINUTES = "%Y-%m-%dT%H:%MZ"
_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is UTC:  # the usual case: nothing to convert
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A task time the way ECS shows it: ``YYYY-MM-DDThh:mmZ`` in UTC."""
    return as_utc(value).strftime(_MINUTES)


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC; a naive datetime is taken to be UTC already."""
    return as_utc(moment).strftime(_SECONDS)


def format_millis(moment: datetime) -> str:
    """``YYYY-MM-DDThh:mm:ss.mmmZ`` in UTC (the journal's ``Time``: calls a second apart
    are told apart); a naive datetime is taken to be UTC already."""
    utc = as_utc(moment)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_time(text: str) -> datetime:
    """Parse ``YYYY-MM-DDThh:mmZ`` or ``YYYY-MM-DDThh:mm:ssZ`` (UTC)."""
    for pattern in (_MINUTES, _SECONDS):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"time {text!r} is not YYYY-MM-DDThh:mmZ or YYYY-MM-DDThh:mm:ssZ (UTC)")
