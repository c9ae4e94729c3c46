"""The digest of a request body: deduplication compares it, so a repeat is told from an id (an
Idempotency-Key, a carrier event id) reused with another body."""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key sent before with another request body (another cart, token, address,
    amount, ...): 422, the one problem every path that compares the bodies answers."""

    title = "Idempotency key reused"

    def __init__(self) -> None:
        super().__init__("this Idempotency-Key was already used with a different request")


def body_digest(body: BaseModel) -> str:
    """SHA-256 hex of the body's canonical JSON (sorted keys, no spaces); fields left out or
    null count alike, so adding an optional field leaves earlier digests as they were."""
    fields = body.model_dump(mode="json", exclude_none=True)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
