"""The `COMMERCE_PAYLOAD_KEYS` value: `id1:base64key,id2:base64key`, parsed, judged and made.

Plain values only: `commerce/settings.py` checks the setting with these at start, and
`commerce/payload_codec.py` builds its AES-GCM ciphers from what `parse_keys` returns.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from commerce.secret_rules import HINT, is_published, weakness

KEY_BYTES = 32  # AES-256: what `new_key_spec` makes; 16 and 24 byte keys are accepted too


def parse_keys(spec: str) -> dict[str, bytes]:
    """`id1:base64key,id2:base64key` → {id: 16, 24 or 32 byte key}, in the order given (the
    last is the active key unless `COMMERCE_PAYLOAD_ACTIVE_KEY` names another). Raises
    ValueError naming the key that is not base64, unnamed or of another length."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, _, encoded = item.partition(":")
        try:
            key = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"key {key_id!r} is not base64") from error
        if not key_id or len(key) not in (16, 24, 32):
            raise ValueError(f"key {key_id!r} must be named and 16, 24 or 32 bytes long")
        keys[key_id] = key
    return keys


def key_spec_weakness(spec: str) -> str | None:
    """Why a `COMMERCE_PAYLOAD_KEYS` value is unfit for production, or None: a key published in
    this repository, one byte repeated (an all-zero key), or otherwise guessable."""
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key_id, _, encoded = item.partition(":")
        if is_published(encoded):
            return f"key {key_id!r} is published in this repository; {_KEY_HINT}"
        reason = weakness(base64.b64decode(encoded), 16)
        if reason:
            return f"key {key_id!r} {reason}; {_KEY_HINT}"
    return None


_KEY_HINT = HINT.replace("-hex 32", "-base64 32")


def new_key_spec(key_id: str) -> str:
    """One new random 256-bit key named `key_id`, as `COMMERCE_PAYLOAD_KEYS` takes it."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"
