"""JWT secrets and local tokens. In development a random secret is generated once per data dir."""

from __future__ import annotations

import secrets
import time

import jwt

from commerce.kept_secrets import kept_secret
from commerce.settings import Settings


def signing_secret(settings: Settings) -> str:
    """The HS256 secret: the configured one, else one kept in the data dir (created on first use)."""
    if settings.jwt_secret:
        return settings.jwt_secret
    return kept_secret(settings.data_dir, "jwt-secret", lambda: secrets.token_urlsafe(48))


def mint_token(settings: Settings, subject: str, roles: list[str], ttl_s: int | None = None) -> str:
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "roles": roles,
        "iat": now,
        "exp": now + (ttl_s if ttl_s is not None else settings.jwt_ttl_s),
    }
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, signing_secret(settings), algorithm="HS256")
