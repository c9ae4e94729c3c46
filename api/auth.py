"""Who is calling: bearer JWT authentication and role checks, as FastAPI dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api.deps import SettingsDep
from api.problems import Problem
from commerce.settings import Settings
from commerce.tokens import InvalidToken, KeySetUnreachable, TokenVerifier

CUSTOMER = "customer"
ADMIN = "admin"
# The request-state attribute holding the principal a middleware already authenticated.
VERIFIED_PRINCIPAL = "verified_principal"
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


def token_verifier(request: Request, settings: Settings) -> TokenVerifier:
    """One verifier per app, so the secret is read and the JWKS fetched once."""
    verifier: TokenVerifier | None = getattr(request.app.state, "token_verifier", None)
    if verifier is None:
        verifier = request.app.state.token_verifier = TokenVerifier(settings)
    return verifier


async def verified_claims(verifier: TokenVerifier, token: str) -> dict[str, Any]:
    """The token's claims; a 401 problem when it proves nothing, 503 when the JWKS is down."""
    try:
        if verifier.fetches_keys:
            claims: dict[str, Any] = await run_in_threadpool(verifier.claims, token)
            return claims
        return verifier.claims(token)
    except InvalidToken as error:
        raise _unauthorized(str(error)) from error
    except KeySetUnreachable as error:
        raise Problem(503, str(error)) from error


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
    """Any caller with a valid bearer token; 401 otherwise. A write's token was verified already,
    before its body was read (`api.limits.WriteGuard`): that principal is used, not decoded again."""
    verified = getattr(request.state, VERIFIED_PRINCIPAL, None)
    if isinstance(verified, Principal):
        return verified
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("a bearer token is required")
    claims = await verified_claims(token_verifier(request, settings), credentials.credentials)
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
