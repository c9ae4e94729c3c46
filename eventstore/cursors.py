"""Opaque list cursors: the list's name and the position of the last item of a page, handed back
for the next one.

A cursor is decoded by the list it is given to, which checks both: a cursor of another list, one
that is not text, or one naming a position no item can have (a time past year 9999 or without a
zone, an id of the wrong shape, NUL) is InvalidCursor (422 at the API), never an error of the
database or server the position would be sent to.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# What encode_cursor writes (base64url, padding optional): the API's cursor type checks it.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]*={0,2}$"
MAX_CURSOR_LENGTH = 2000
_SEPARATOR = "|"


class InvalidCursor(ValueError):
    """A list cursor that this service did not hand out for that list."""

    def __init__(self, detail: str = "the cursor is not one this list handed out") -> None:
        super().__init__(detail)


def encode_cursor(*parts: str) -> str:
    """base64url (unpadded) of the parts joined by `|`; no part may hold `|`."""
    if any(_SEPARATOR in part for part in parts):
        raise ValueError("a cursor part cannot hold '|'")
    return base64.urlsafe_b64encode(_SEPARATOR.join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[str]:
    """The parts `encode_cursor` was given; InvalidCursor for anything that is not such text."""
    try:
        padded = cursor.rstrip("=") + "=" * (-len(cursor.rstrip("=")) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor() from error
    if "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise InvalidCursor()
    return text.split(_SEPARATOR)


Part = Callable[[str], Any]
"""Reads one part of a position; ValueError (or OverflowError) when it cannot be one."""


def timestamp(text: str) -> datetime:
    """An RFC 3339 time with its zone, as `datetime.isoformat` writes it, in UTC (years 1 to
    9999 there: PostgreSQL would take year 99999, which no item has)."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a cursor's time carries its zone")
    return value.astimezone(UTC)


def uuid_text(text: str) -> str:
    """A UUID in its canonical text (lower case, hyphenated), as `str(uuid)` writes it."""
    if str(uuid.UUID(text)) != text:
        raise ValueError("not a UUID in canonical form")
    return text


def matching(pattern: str) -> Part:
    """Text that matches `pattern` (a key of the list, such as a sku)."""
    compiled = re.compile(pattern)

    def part(text: str) -> str:
        if not compiled.fullmatch(text):
            raise ValueError(f"does not match {pattern}")
        return text

    return part


def _text(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


@dataclass(frozen=True)
class CursorFormat:
    """One list's cursors: its name, and how each part of the position is read.

    `encode(*position)` writes a datetime in ISO 8601 and anything else as `str`; `decode` gives
    the position back read by `parts` (None for no cursor), or raises InvalidCursor."""

    list_name: str
    parts: tuple[Part, ...]

    def encode(self, *position: object) -> str:
        return encode_cursor(self.list_name, *map(_text, position))

    def decode(self, cursor: str | None) -> tuple[Any, ...] | None:
        if not cursor:
            return None
        name, *values = decode_cursor(cursor)
        if name != self.list_name or len(values) != len(self.parts):
            raise InvalidCursor()
        try:
            return tuple(read(value) for read, value in zip(self.parts, values, strict=True))
        except (ValueError, OverflowError) as error:
            raise InvalidCursor() from error
