"""Switches of the simulated providers, so every saga path can be driven from the API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep
from api.problems import Problem
from eventstore.sandbox import SandboxLedger

router = APIRouter(prefix="/api/v1/admin/sandbox", tags=["admin: sandbox"])


class ProviderSwitch(BaseModel):
    available: bool


class ProviderState(BaseModel):
    name: str
    available: bool


@router.put("/providers/{name}", response_model=ProviderState)
async def switch_provider(
    name: Literal["payment", "shipping", "notifications"],
    body: ProviderSwitch,
    _: AdminPrincipal,
    pool: PoolDep,
    settings: SettingsDep,
) -> ProviderState:
    """Make a simulated provider answer as if it were down (`available: false`) or up again;
    404 for one that a real provider replaces (`COMMERCE_PAYMENT_PROVIDER=stripe`)."""
    if name not in settings.sandbox_providers():
        raise Problem(404, f"the {name} provider is not simulated here")
    await SandboxLedger(pool).set_available(name, body.available)
    return ProviderState(name=name, available=body.available)
