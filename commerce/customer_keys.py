"""The `CustomerId` search attribute holds a keyed hash of the customer id, never the id itself:
Temporal's visibility store is searchable by it, but shows no customer to whoever reads it.

An operator finds a customer's sagas with `commerce customer-key SUB`, whose output goes into
the Temporal UI's query: `CustomerId = "<that value>"`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from commerce.kept_secrets import kept_secret
from commerce.settings import Settings

_PURPOSE = b"commerce: CustomerId search attribute"


def customer_key_secret(settings: Settings) -> str:
    """`COMMERCE_CUSTOMER_KEY_SECRET`; in development one kept in the data dir."""
    if settings.customer_key_secret:
        return settings.customer_key_secret
    if settings.environment != "development":
        raise ValueError("COMMERCE_CUSTOMER_KEY_SECRET is required in production")
    return kept_secret(settings.data_dir, "customer-key-secret", lambda: secrets.token_hex(32))


def customer_search_key(settings: Settings, customer_id: str) -> str:
    """The `CustomerId` value of a customer's sagas: HMAC-SHA256 of the id under a key derived
    from the secret (32 hex characters, 128 bits). The same id always gives the same value."""
    key = hmac.new(customer_key_secret(settings).encode(), _PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, customer_id.encode(), hashlib.sha256).hexdigest()[:32]
