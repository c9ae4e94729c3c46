"""Who is calling: bearer JWT authentication and role checks, as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.problems import Problem
from commerce.settings import Settings
from commerce.tokens import signing_secret

CUSTOMER = "customer"
ADMIN = "admin"
_REQUIRED_CLAIMS = ["sub", "roles", "exp"]
_bearer = HTTPBearer(auto_error=False, description="A JWT: `commerce token SUB [--role admin]`")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: `subject` is the customer id (the token's `sub`)."""

    subject: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


def _unauthorized(detail: str) -> Problem:
    problem = Problem(401, detail)
    problem.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return problem


def _jwks_client(request: Request, settings: Settings) -> jwt.PyJWKClient:
    """One JWKS client per app, so keys are fetched once and cached."""
    client: jwt.PyJWKClient | None = getattr(request.app.state, "jwks_client", None)
    if client is None:
        assert settings.jwt_jwks_url
        client = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True)
        request.app.state.jwks_client = client
    return client


async def _verification_key(request: Request, settings: Settings, token: str) -> tuple[Any, str]:
    if settings.jwt_jwks_url and jwt.get_unverified_header(token).get("alg") == "RS256":
        client = _jwks_client(request, settings)
        signing_key = await run_in_threadpool(client.get_signing_key_from_jwt, token)
        return signing_key.key, "RS256"
    return signing_secret(settings), "HS256"


def _principal(claims: dict[str, Any]) -> Principal:
    subject, roles = claims.get("sub"), claims.get("roles")
    if not isinstance(subject, str) or not subject:
        raise _unauthorized("the token's sub claim must be a non-empty string")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _unauthorized("the token's roles claim must be a list of strings")
    return Principal(subject=subject, roles=frozenset(roles))


async def authenticate(
    request: Request,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """Any caller with a valid bearer token; 401 otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    token = credentials.credentials
    try:
        key, algorithm = await _verification_key(request, settings, token)
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": _REQUIRED_CLAIMS, "verify_aud": bool(settings.jwt_audience)},
        )
    except jwt.ExpiredSignatureError as error:
        raise _unauthorized("the token has expired") from error
    except jwt.PyJWKClientError as error:
        raise _unauthorized("the token's signing key is unknown") from error
    except jwt.InvalidTokenError as error:
        raise _unauthorized(f"the token is invalid: {error}") from error
    return _principal(claims)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


async def require_customer(principal: CurrentPrincipal) -> Principal:
    """A shopper: role `customer` (admins may act as customers too); 403 otherwise."""
    if not principal.roles & {CUSTOMER, ADMIN}:
        raise Problem(403, "this operation needs the customer role")
    return principal


async def require_admin(principal: CurrentPrincipal) -> Principal:
    """An operator: role `admin`; 403 otherwise."""
    if not principal.is_admin:
        raise Problem(403, "this operation needs the admin role")
    return principal


CustomerPrincipal = Annotated[Principal, Depends(require_customer)]
AdminPrincipal = Annotated[Principal, Depends(require_admin)]
