"""The product catalog and its stock: customers browse, admins set products and stock."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import AdminPrincipal, CurrentPrincipal
from api.deps import CatalogDep
from api.ids import CursorQuery, Sku
from api.problems import Problem
from api.validation import CurrencyCode, DisplayText
from eventstore.catalog import Product

router = APIRouter(prefix="/api/v1", tags=["catalog"])
_MAX_PRICE = 10**12  # minor units; far above any real price, well inside bigint
_MAX_STOCK = 2**31 - 1  # stock.on_hand is a Postgres integer


class ProductUpsert(BaseModel):
    name: DisplayText = Field(min_length=1, max_length=200)
    price: int = Field(strict=True, ge=0, le=_MAX_PRICE, description="minor units of currency")
    currency: CurrencyCode
    stock: int = Field(strict=True, ge=0, le=_MAX_STOCK, description="units on hand")


class ProductPublic(BaseModel):
    sku: str
    name: str
    price: int
    currency: str
    on_hand: int
    reserved: int
    available: int
    discontinued_at: datetime | None = Field(
        default=None, description="when it stopped being sold; null while it is sold"
    )

    @classmethod
    def of(cls, product: Product) -> ProductPublic:
        return cls(
            sku=product.sku,
            name=product.name,
            price=product.price,
            currency=product.currency,
            on_hand=product.on_hand,
            reserved=product.reserved,
            available=product.available,
            discontinued_at=product.discontinued_at,
        )


class ProductPage(BaseModel):
    items: list[ProductPublic]
    next_cursor: str | None


@router.put("/admin/products/{sku}")
async def put_product(
    sku: Sku, body: ProductUpsert, _: AdminPrincipal, catalog: CatalogDep, response: Response
) -> ProductPublic:
    """Create (201) or replace (200) a product and set its on-hand stock; a discontinued
    product is sold again."""
    product, created = await catalog.upsert_product(
        sku, body.name, body.price, body.currency, body.stock
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return ProductPublic.of(product)


@router.delete("/admin/products/{sku}", status_code=status.HTTP_204_NO_CONTENT)
async def discontinue_product(sku: Sku, _: AdminPrincipal, catalog: CatalogDep) -> Response:
    """Stop selling a product (204; 404 for an unknown sku): it leaves the product list, adding
    it to a cart is 404 and checking out a cart that holds it is 409. Its stock and the orders
    that hold it are kept; PUT sells it again."""
    if not await catalog.discontinue(sku):
        raise Problem(404, f"no product with sku {sku!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/admin/products/{sku}")
async def get_product(sku: Sku, _: AdminPrincipal, catalog: CatalogDep) -> ProductPublic:
    """A product with its on-hand, reserved and available stock, sold or discontinued."""
    product = await catalog.get_product(sku)
    if product is None:
        raise Problem(404, f"no product with sku {sku!r}")
    return ProductPublic.of(product)


@router.get("/products")
async def list_products(
    _: CurrentPrincipal,
    catalog: CatalogDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
) -> ProductPage:
    """Products on sale by sku, a page at a time; pass `next_cursor` back as `cursor` for the
    next."""
    products, next_cursor = await catalog.list_products(limit, cursor)
    return ProductPage(items=[ProductPublic.of(p) for p in products], next_cursor=next_cursor)
