"""The catalog and its stock in PostgreSQL: products, prices, on-hand and reserved quantities."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from domain.cart import CatalogPrice
from eventstore.cursors import CursorFormat, matching

SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PRODUCT_CURSOR = CursorFormat("products", (matching(SKU_PATTERN),))  # after this sku


class StockBelowReserved(Exception):
    """The new on-hand quantity would be less than what order sagas have reserved."""

    def __init__(self, sku: str, stock: int, reserved: int) -> None:
        super().__init__(f"stock of {sku} cannot be {stock}: {reserved} are reserved by orders")
        self.sku = sku
        self.stock = stock
        self.reserved = reserved


@dataclass(frozen=True, slots=True)
class Product:
    """A product with its stock; `available` never goes below zero. A discontinued product
    (`discontinued_at` set) is no longer sold; its stock and the orders that hold it remain."""

    sku: str
    name: str
    price: int
    currency: str
    on_hand: int
    reserved: int
    created_at: datetime
    updated_at: datetime
    discontinued_at: datetime | None = None

    @property
    def available(self) -> int:
        return max(self.on_hand - self.reserved, 0)


_SELECT = """
SELECT p.sku, p.name, p.price, p.currency, p.created_at, p.updated_at, p.discontinued_at,
       coalesce(s.on_hand, 0) AS on_hand, coalesce(s.reserved, 0) AS reserved
FROM products p LEFT JOIN stock s USING (sku)
"""

# Putting a product (again) sells it (again).
_UPSERT_PRODUCT = """
INSERT INTO products AS p (sku, name, price, currency) VALUES ($1, $2, $3, $4)
ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, price = EXCLUDED.price,
    currency = EXCLUDED.currency, discontinued_at = NULL, updated_at = now()
RETURNING (xmax = 0) AS created
"""

_DISCONTINUE = """
UPDATE products SET discontinued_at = coalesce(discontinued_at, now()), updated_at = now()
WHERE sku = $1 RETURNING sku
"""

_SET_STOCK = """
INSERT INTO stock (sku, on_hand) VALUES ($1, $2)
ON CONFLICT (sku) DO UPDATE SET on_hand = EXCLUDED.on_hand
WHERE stock.reserved <= EXCLUDED.on_hand
RETURNING reserved
"""


def _product(row: asyncpg.Record) -> Product:
    return Product(**dict(row))


class Catalog:
    """Products and stock; writes to a product and its stock happen in one transaction.

    `changed` is called once a product write has committed (the process's price cache drops
    what it holds; other processes hear of it through the catalog version, 0063)."""

    def __init__(self, pool: asyncpg.Pool, changed: Callable[[], None] | None = None) -> None:
        self._pool = pool
        self._changed = changed or (lambda: None)

    async def upsert_product(
        self, sku: str, name: str, price: int, currency: str, stock: int
    ) -> tuple[Product, bool]:
        """Create or replace the product and set its on-hand stock; True when it was created.

        Raises StockBelowReserved rather than let on-hand fall under what orders hold."""
        async with self._pool.acquire() as conn, conn.transaction():
            created: bool = await conn.fetchval(_UPSERT_PRODUCT, sku, name, price, currency)
            row = await conn.fetchrow(_SET_STOCK, sku, stock)
            if row is None:
                reserved = await conn.fetchval("SELECT reserved FROM stock WHERE sku = $1", sku)
                raise StockBelowReserved(sku, stock, reserved)
            product = await conn.fetchrow(f"{_SELECT} WHERE p.sku = $1", sku)
        self._changed()
        return _product(product), created

    async def discontinue(self, sku: str) -> bool:
        """Stop selling the product (idempotent); False when there is no such sku. Its stock
        rows and the orders that hold it are kept; `upsert_product` sells it again."""
        discontinued = await self._pool.fetchval(_DISCONTINUE, sku) is not None
        self._changed()
        return discontinued

    async def get_product(self, sku: str) -> Product | None:
        """The product, sold or discontinued."""
        row = await self._pool.fetchrow(f"{_SELECT} WHERE p.sku = $1", sku)
        return _product(row) if row else None

    async def list_products(
        self, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Product], str | None]:
        """A page of the products on sale ordered by sku, and the cursor of the next page (None
        at the end)."""
        (after,) = _PRODUCT_CURSOR.decode(cursor) or ("",)
        rows = await self._pool.fetch(
            f"{_SELECT} WHERE p.sku > $1 AND p.discontinued_at IS NULL ORDER BY p.sku LIMIT $2",
            after,
            limit + 1,
        )
        products = [_product(row) for row in rows[:limit]]
        more = len(rows) > limit
        return products, _PRODUCT_CURSOR.encode(products[-1].sku) if more else None

    async def prices(self, skus: Iterable[str]) -> dict[str, CatalogPrice]:
        """The current price of each sku still sold, by sku (one query; none for no skus)."""
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        rows = await self._pool.fetch(
            "SELECT sku, name, price, currency FROM products"
            " WHERE sku = ANY($1::text[]) AND discontinued_at IS NULL",
            wanted,
        )
        return {
            row["sku"]: CatalogPrice(
                sku=row["sku"], name=row["name"], unit_price=row["price"], currency=row["currency"]
            )
            for row in rows
        }


DEMO_PRODUCTS = [
    ("TSHIRT-BLK-M", "T-shirt, black, M", 1999, "USD", 100),
    ("HOODIE-GRY-L", "Hoodie, grey, L", 4999, "USD", 50),
    ("MUG-LOGO", "Mug with logo", 1299, "USD", 200),
    ("STICKER-PACK", "Sticker pack", 499, "USD", 1000),
    ("CAP-NAVY", "Cap, navy", 2499, "USD", 75),
    ("POSTER-A2", "Poster, A2", 1599, "USD", 3),
]


async def load_demo_catalog(pool: asyncpg.Pool) -> int:
    """Insert the demo products and their stock unless they exist; returns how many were new."""
    async with pool.acquire() as conn, conn.transaction():
        new = 0
        for sku, name, price, currency, on_hand in DEMO_PRODUCTS:
            inserted = await conn.fetchval(
                "INSERT INTO products (sku, name, price, currency) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT DO NOTHING RETURNING true",
                sku,
                name,
                price,
                currency,
            )
            await conn.execute(
                "INSERT INTO stock (sku, on_hand) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                sku,
                on_hand,
            )
            new += bool(inserted)
    return new
