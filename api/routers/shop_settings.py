"""Shop-wide settings an admin changes at run time."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import AdminPrincipal
from api.deps import PoolDep
from api.validation import CurrencyCode
from eventstore.spending import SpendingLimit, SpendingLimits

router = APIRouter(prefix="/api/v1/admin/settings", tags=["admin: settings"])


class SpendingLimitBody(BaseModel):
    amount: int = Field(
        strict=True, ge=0, le=10**12, description="minor units per customer; 0 = no limit"
    )
    currency: CurrencyCode = "USD"


@router.get("/spending-limit", response_model=SpendingLimitBody)
async def get_spending_limit(_: AdminPrincipal, pool: PoolDep) -> SpendingLimitBody:
    """The cumulative spending limit each customer's live and completed orders count against."""
    limit = await SpendingLimits(pool).current()
    return SpendingLimitBody(amount=limit.amount, currency=limit.currency)


@router.put("/spending-limit", response_model=SpendingLimitBody)
async def set_spending_limit(
    body: SpendingLimitBody, _: AdminPrincipal, pool: PoolDep
) -> SpendingLimitBody:
    """Set the per-customer spending limit (0 = none); orders not yet authorized obey it."""
    await SpendingLimits(pool).set(SpendingLimit(body.amount, body.currency))
    return body
