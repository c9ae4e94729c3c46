"""What a secret setting must be in production: long, not guessable, not published here.

Mark a setting as secret with `Annotated[str | None, SecretSetting()]` in `commerce/settings.py`;
in production `Settings` then refuses a weak value at start, in one line naming the setting.
Development accepts any value (and generates its own when none is given).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from commerce.published_values import MAX_PUBLISHED_CHARS, PUBLISHED_DIGESTS

# The shortest published value looked for: the base64 text of a 16-byte AES key.
MIN_PUBLISHED_CHARS = 24
# Candidate values in a text: maximal runs of the characters secrets are written with
# (hex, base64, base64url, and the separators of hand-made placeholders).
SECRET_LIKE = re.compile(rf"[A-Za-z0-9+/=_\-.~]{{{MIN_PUBLISHED_CHARS},}}")
# Random hex of 16 bytes measures at least ~2.8 bits per character; placeholders far less.
_MIN_BITS_PER_SYMBOL = 2.5
HINT = "make one with `openssl rand -hex 32`"


def digest(value: str) -> str:
    """The form a published value is kept in (`commerce/published_values.py`)."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def weakness(value: bytes, min_bytes: int) -> str | None:
    """Why `value` is too weak to be a key, or None: too short, one byte repeated, a repeated
    pattern, a run of consecutive characters, or too few distinct symbols (Shannon estimate)."""
    if len(value) < min_bytes:
        return f"is {len(value)} bytes long; at least {min_bytes} are needed"
    if len(set(value)) == 1:
        return "is one byte repeated"
    if _periodic(value):
        return "repeats a shorter pattern"
    if len({b - a for a, b in itertools.pairwise(value)}) == 1:
        return "is a run of consecutive characters"
    if _bits_per_symbol(value) < _MIN_BITS_PER_SYMBOL:
        return "has too little entropy (too few distinct characters)"
    return None


def is_published(text: str) -> bool:
    """True when `text` contains a value of 24 or more characters that appears in this
    repository (examples, placeholders, test constants): such a value is known to everyone."""
    return any(digest(part) in PUBLISHED_DIGESTS for part in _substrings(text))


def text_secret_weakness(value: str, min_bytes: int = 32) -> str | None:
    """Why a text secret (an HMAC key such as the HS256 JWT secret) is unfit, or None."""
    if is_published(value):
        return f"is a value published in this repository; {HINT}"
    reason = weakness(value.encode(), min_bytes)
    return f"{reason}; {HINT}" if reason else None


@dataclass(frozen=True)
class SecretSetting:
    """Marks a setting as a secret: in production its value must pass `check`
    (by default `text_secret_weakness` with `min_bytes`)."""

    min_bytes: int = 32
    check: Callable[[str], str | None] | None = None

    def weakness(self, value: str) -> str | None:
        if self.check is not None:
            return self.check(value)
        return text_secret_weakness(value, self.min_bytes)


def _substrings(text: str) -> Iterator[str]:
    """Every substring of `text` as long as a published value can be."""
    for start in range(len(text) - MIN_PUBLISHED_CHARS + 1):
        longest = min(len(text), start + MAX_PUBLISHED_CHARS)
        for end in range(start + MIN_PUBLISHED_CHARS, longest + 1):
            yield text[start:end]


def _periodic(value: bytes) -> bool:
    size = len(value)
    return any(
        size % period == 0 and value == value[:period] * (size // period)
        for period in range(1, size // 2 + 1)
    )


def _bits_per_symbol(value: bytes) -> float:
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in Counter(value).values())
