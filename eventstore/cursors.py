"""Opaque list cursors: the position of the last item of a page, handed back for the next one."""

from __future__ import annotations

import base64
import binascii


class InvalidCursor(ValueError):
    """A list cursor that this service did not hand out."""


def encode_cursor(*parts: str) -> str:
    return base64.urlsafe_b64encode("|".join(parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, parts: int = 1) -> list[str]:
    """The `parts` values `encode_cursor` was given; InvalidCursor for anything else."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidCursor("the cursor is not one this API handed out") from error
    values = text.split("|", parts - 1)
    if len(values) != parts or "\x00" in text:  # PostgreSQL text cannot hold NUL
        raise InvalidCursor("the cursor is not one this API handed out")
    return values
