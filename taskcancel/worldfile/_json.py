"""Reading a world file's JSON safely: whatever the bytes, a :class:`WorldFileError`.

:func:`decode_json` decodes text or UTF-8 bytes with integers too long to be numbers
kept aside and nesting past the parser's reach refused; :func:`check_values` walks
any decoded value without recursion and refuses, naming the field, nesting deeper
than a world file has, text with a lone surrogate (not valid Unicode, so it could
neither be printed nor stored), and those over-long numbers. Field names in messages
are escaped (:func:`~taskcancel._core._text.printable`), so a message is always one line.
"""

from __future__ import annotations

import json
import re

from .._core._text import printable

__all__ = ["WorldFileError", "check_values", "decode_json"]


class WorldFileError(ValueError):
    """A world file that cannot be used; the message names file, field and reason."""

    def __init__(self, source: str, field: str, reason: str) -> None:
        super().__init__(f"{source}: {field}: {reason}")
        self.source = source
        self.field = field
        self.reason = reason


def decode_json(text: str | bytes, source: str) -> object:
    """The JSON value of ``text``; :class:`WorldFileError` (field ``(file)``) if it is none."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WorldFileError(source, "(file)", f"not UTF-8 text: {exc.reason}") from None
    # Integers are decoded in C unless the text has a digit run too long for any field;
    # only then is each one looked at (so a body of millions of numbers decodes fast).
    long_digits = _LONG_DIGITS.search(text) is not None
    try:
        if not long_digits:
            return json.loads(text)
        return json.loads(text, parse_int=_int)
    except json.JSONDecodeError as exc:
        raise WorldFileError(
            source, "(file)", f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise WorldFileError(
            source, "(file)", f"JSON nested too deeply (a world file nests {_MAX_DEPTH} at most)"
        ) from None


#: How deep a world file may nest (it needs 4: top level, Tasks, a task, its Schedule).
_MAX_DEPTH = 16
#: Longer integers are kept as :class:`_LongNumber`, to be refused naming their field.
_MAX_DIGITS = 30


class _LongNumber:
    """An integer literal too long to be a number any world-file field takes."""

    def __init__(self, digits: int) -> None:
        self.digits = digits

    def __repr__(self) -> str:
        return f"a {self.digits}-digit number"


def _int(text: str) -> int | _LongNumber:
    if len(text) > _MAX_DIGITS:
        return _LongNumber(len(text.lstrip("-")))
    return int(text)


def check_values(data: object, source: str) -> None:
    """Refuse depth, lone surrogates and long numbers anywhere, naming the field.

    Iterative, so any nesting is safe; field names are built only for the error.
    """
    Parent = tuple[object, str | int] | None  # (parent, key or index)
    stack: list[tuple[object, Parent, int]] = [(data, None, 1)]

    def field(parent: Parent, last: str | int | None = None) -> str:
        parts: list[str | int] = [] if last is None else [last]
        while parent is not None:
            parent, key = parent  # type: ignore[assignment]
            parts.append(key)
        text = ""
        for part in reversed(parts):
            if isinstance(part, int):
                text += f"[{part}]"
            else:
                text += ("." if text else "") + printable(part)
        return text or "(top level)"

    while stack:
        value, parent, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and not _unicode(value):
                raise WorldFileError(
                    source, field(parent), "contains a lone surrogate; not valid Unicode text"
                )
        elif isinstance(value, _LongNumber):
            raise WorldFileError(source, field(parent), f"{value!r}: too long for any field")
        elif isinstance(value, dict | list):
            if depth > _MAX_DEPTH:
                raise WorldFileError(
                    source, field(parent), f"nested too deeply (at most {_MAX_DEPTH} levels)"
                )
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(key, str) and not key.isascii() and not _unicode(key):
                        raise WorldFileError(
                            source, field(parent, key), "a key with a lone surrogate"
                        )
                    stack.append((item, (parent, key), depth + 1))
            else:
                for index, item in enumerate(value):
                    if type(item) in _PLAIN:  # nothing to check: no work per number
                        continue
                    if type(item) is str and item.isascii():
                        continue
                    stack.append((item, (parent, index), depth + 1))


#: Values with nothing in them to refuse (a long integer is a _LongNumber, not an int).
_PLAIN = frozenset({int, float, bool, type(None)})
#: A run of digits longer than any number a world file takes (checked before decoding).
_LONG_DIGITS = re.compile(rf"\d{{{_MAX_DIGITS + 1},}}")


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
