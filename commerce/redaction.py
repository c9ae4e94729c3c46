"""One rule for every URL that may be printed: its password never is.

Used by connection errors, `commerce infra` / `commerce dev` output, health checks and every log
line (the JSON formatter passes messages and tracebacks through `redacted`).
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://user:password@host: up to the last "@" of the word, as an unencoded password may hold
# ":", "/" or "@" (masking too much is harmless; too little is not).
_USERINFO_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/\s]*:)\S+(?=@)")
# ?password=... or &sslpassword=... (libpq and asyncpg read these from the query string).
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&][A-Za-z]*password=)[^&\s]*", re.IGNORECASE)


def redacted(text: str) -> str:
    """`text` with the password of every URL in it replaced by `***`: a URL
    (`redis://:s3cret@host:6379/0` → `redis://:***@host:6379/0`) or a message or traceback that
    contains one. Text without a URL password comes back unchanged."""
    text = _USERINFO_PASSWORD.sub(rf"\g<head>{MASK}", text)
    return _QUERY_PASSWORD.sub(rf"\g<head>{MASK}", text)
