"""Cart analytics for operators, read from counters kept beside the carts in Redis."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import AdminPrincipal
from api.cart_analytics import CartAnalytics, cart_analytics
from api.deps import RedisDep

router = APIRouter(prefix="/api/v1/admin/analytics", tags=["analytics"])


@router.get("/carts")
async def get_cart_analytics(_: AdminPrincipal, client: RedisDep) -> CartAnalytics:
    """Active carts, what they hold, and how many were created, converted and abandoned."""
    return await cart_analytics(client)
