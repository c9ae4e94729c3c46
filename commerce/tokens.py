"""Bearer JWTs: the one check every entry point uses (API, codec server), and local tokens.

Two modes, never both: HS256 with `COMMERCE_JWT_SECRET` (in development a random secret is
generated once per data dir), or the identity provider's keys from `COMMERCE_JWT_JWKS_URL`
(RS256; no secret exists, none is generated or written, HS256 tokens are refused).
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import jwt

from commerce.kept_secrets import kept_secret
from commerce.settings import Settings

REQUIRED_CLAIMS = ("sub", "roles", "exp")
JWKS_ALGORITHMS = ["RS256"]


class InvalidToken(Exception):
    """The token proves nothing (an HTTP 401); the message says why, without the token."""


class KeySetUnreachable(Exception):
    """The JWKS endpoint did not answer (an HTTP 503: nothing the caller did wrong)."""


def signing_secret(settings: Settings) -> str | None:
    """The HS256 secret: the configured one; in development one kept in the data dir (created
    on first use); None in JWKS mode and in production without one (nothing is written)."""
    if settings.jwt_jwks_url:
        return None
    if settings.jwt_secret:
        return settings.jwt_secret
    if settings.environment != "development":
        return None
    return kept_secret(settings.data_dir, "jwt-secret", lambda: secrets.token_urlsafe(48))


def mint_token(settings: Settings, subject: str, roles: list[str], ttl_s: int | None = None) -> str:
    """A token this deployment accepts, for local use; ValueError in JWKS mode (tokens then come
    from the identity provider)."""
    secret = signing_secret(settings)
    if secret is None:
        raise ValueError("tokens come from the identity provider (COMMERCE_JWT_JWKS_URL is set)")
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
    return jwt.encode(claims, secret, algorithm="HS256")


class TokenVerifier:
    """Checks a bearer JWT: the signature (HS256 with the secret, or RS256 from the JWKS), `exp`,
    `sub` and `roles` present, and `iss`/`aud` equal to the settings when they are set.

    `claims` blocks while the key set is fetched in JWKS mode (`fetches_keys`): call it off the
    event loop there.
    """

    def __init__(self, settings: Settings) -> None:
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._required = [*REQUIRED_CLAIMS]
        self._required += ["iss"] if self._issuer else []
        self._required += ["aud"] if self._audience else []
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, timeout=10)
            if settings.jwt_jwks_url
            else None
        )
        self._secret = signing_secret(settings)

    @property
    def fetches_keys(self) -> bool:
        return self._jwks is not None

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims; InvalidToken or KeySetUnreachable otherwise."""
        try:
            key, algorithms = self._key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                issuer=self._issuer,
                audience=self._audience,
                options={"require": self._required, "verify_aud": bool(self._audience)},
            )
        except jwt.ExpiredSignatureError as error:
            raise InvalidToken("the token has expired") from error
        except jwt.PyJWKClientConnectionError as error:
            raise KeySetUnreachable("the identity provider's key set did not answer") from error
        except jwt.PyJWKClientError as error:
            raise InvalidToken("the token's signing key is unknown") from error
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the token is invalid: {error}") from error
        return claims

    def _key(self, token: str) -> tuple[Any, list[str]]:
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key, JWKS_ALGORITHMS
        if self._secret is None:
            raise jwt.InvalidTokenError("no key to check tokens with")
        return self._secret, ["HS256"]
