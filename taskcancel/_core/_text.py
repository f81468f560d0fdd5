"""Showing untrusted text on one line: ids, keys and values read from files and requests.

:func:`printable` escapes a string so that printing it can neither break a line nor
fail on any stream: everything but printable ASCII becomes a backslash escape, and so
does the backslash itself, so the escaped form is unambiguous. :func:`shown` is a short
``repr`` for error messages, bounded in length and depth whatever the value (a
megabyte string, a list nested a thousand deep, an integer of 5,000 digits).
"""

from __future__ import annotations

import re
import reprlib

__all__ = ["escape_char", "one_line", "printable", "shown"]

_NAMED = {"\\": "\\\\", '"': '\\"', "\r": "\\r", "\n": "\\n", "\t": "\\t"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def escape_char(match: re.Match[str]) -> str:
    """One character as a Python-style escape (``\\n``, ``\\x1b``, ``\\u00e9``): the one
    escaping dialect of every line taskcancel writes (``re.sub`` callback)."""
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def one_line(text: str) -> str:
    """``text`` on one line: CR, LF and other control characters escaped, the rest kept."""
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(escape_char, text)


def printable(text: str) -> str:
    """``text`` as one line of printable ASCII, safe to write to any stream.

    Printable ASCII stays as it is; everything else -- CR, LF and other control
    characters, line separators, lone surrogates, any non-ASCII character -- and the
    backslash itself become Python-style escapes (``\\n``, ``\\x1b``, ``\\ud800``,
    ``\\xe9``), so data can never forge or break a line, nor fail to encode:
    ``"t-1\\nlistening on"`` is shown as ``t-1\\nlistening on``.
    """
    if text.isascii() and text.isprintable() and "\\" not in text:
        return text
    return text.encode("unicode_escape").decode("ascii")


class _Repr(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 200:  # repr() of a huge int is slow, and refused past 4300 digits
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


_short = _Repr()
_short.maxstring = 80
_short.maxother = 80
_short.maxlevel = 3


def shown(value: object) -> str:
    """A short, one-line ``repr`` of ``value`` for an error message."""
    return _short.repr(value)
