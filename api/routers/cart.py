"""The customer's shopping cart, kept in Redis with a TTL renewed on every write."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CustomerPrincipal
from api.cart_errors import CartNotFound
from api.cart_view import CartView
from api.deps import CartStoreDep
from api.ids import CartId, Sku
from api.validation import CurrencyCode
from domain.cart import MAX_LINE_QUANTITY

router = APIRouter(prefix="/api/v1/cart", tags=["cart"])


class CartCreate(BaseModel):
    currency: CurrencyCode | None = None


class CartItemAdd(BaseModel):
    """A line to add. Any price the client sends is ignored: prices come from the catalog."""

    model_config = ConfigDict(extra="ignore")

    sku: Sku
    quantity: int = Field(strict=True, ge=1, le=MAX_LINE_QUANTITY)


class CartItemUpdate(BaseModel):
    quantity: int = Field(strict=True, ge=0, le=MAX_LINE_QUANTITY, description="0 removes the line")


@router.post("/", status_code=status.HTTP_201_CREATED)
async def create_cart(
    principal: CustomerPrincipal, carts: CartStoreDep, body: CartCreate | None = None
) -> CartView:
    """Start a new cart; it becomes the customer's active cart."""
    return await carts.create(principal.subject, body.currency if body else None)


@router.get("/active")
async def get_active_cart(principal: CustomerPrincipal, carts: CartStoreDep) -> CartView:
    """The customer's active cart; 404 when there is none."""
    cart = await carts.active(principal.subject)
    if cart is None:
        raise CartNotFound("you have no active cart")
    return cart


@router.get("/{cart_id}")
async def get_cart(cart_id: CartId, principal: CustomerPrincipal, carts: CartStoreDep) -> CartView:
    """One of the customer's carts."""
    return await carts.owned(cart_id, principal.subject)


@router.post("/{cart_id}/items")
async def add_cart_item(
    cart_id: CartId, body: CartItemAdd, principal: CustomerPrincipal, carts: CartStoreDep
) -> CartView:
    """Add a quantity of a sku at the catalog price; an existing line grows by that quantity."""
    return await carts.add_item(cart_id, principal.subject, body.sku, body.quantity)


@router.put("/{cart_id}/items/{sku}")
async def set_cart_item_quantity(
    cart_id: CartId,
    sku: Sku,
    body: CartItemUpdate,
    principal: CustomerPrincipal,
    carts: CartStoreDep,
) -> CartView:
    """Set a line's quantity; 0 removes the line."""
    return await carts.set_quantity(cart_id, principal.subject, sku, body.quantity)


@router.delete("/{cart_id}/items/{sku}")
async def remove_cart_item(
    cart_id: CartId, sku: Sku, principal: CustomerPrincipal, carts: CartStoreDep
) -> CartView:
    """Remove a line; removing an absent sku changes nothing."""
    return await carts.remove_item(cart_id, principal.subject, sku)


@router.delete("/{cart_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_cart(
    cart_id: CartId, principal: CustomerPrincipal, carts: CartStoreDep
) -> Response:
    """Discard the cart."""
    await carts.delete(cart_id, principal.subject)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
