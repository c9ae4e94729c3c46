"""Switches of the simulated providers, so every saga path can be driven from the API."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, StrictBool

from api.auth import AdminPrincipal
from api.deps import PoolDep, SettingsDep, TemporalDep
from api.ids import OrderId
from api.problems import Problem
from eventstore.sandbox import SandboxLedger
from workflows.contract import SIGNAL_PAYMENT_UPDATED, order_workflow_id

router = APIRouter(prefix="/api/v1/admin/sandbox", tags=["admin: sandbox"])


class ProviderSwitch(BaseModel):
    available: StrictBool


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


class PaymentActionOutcome(BaseModel):
    authenticated: StrictBool


@router.post("/payments/{order_id}/action", status_code=202, response_model=PaymentActionOutcome)
async def settle_payment_action(
    order_id: OrderId,
    body: PaymentActionOutcome,
    _: AdminPrincipal,
    pool: PoolDep,
    temporal: TemporalDep,
) -> PaymentActionOutcome:
    """Stand in for the customer's bank on a `tok_3ds` payment: pass (`authenticated: true`) or
    fail its 3-D Secure check, and tell the saga as a gateway's webhook would (404 when no
    payment of the order awaits the customer)."""
    if not await SandboxLedger(pool).settle_payment_action(order_id, body.authenticated):
        raise Problem(404, f"no payment of order {order_id} awaits the customer")
    handle = temporal.get_workflow_handle(order_workflow_id(order_id))
    await handle.signal(SIGNAL_PAYMENT_UPDATED)
    return body
