"""The identifiers a request may carry, each defined once, in the shape the service gives it.

Every route and request body takes these types, so a value that does not fit is a 422 problem
naming the field before it reaches a Redis key, a SQL query, a workflow id or a URL, and the
OpenAPI document shows clients each rule. A new identifier gets its type here.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Header, Query
from pydantic import Field, StringConstraints

from eventstore.catalog import SKU_PATTERN
from eventstore.cursors import CURSOR_PATTERN, MAX_CURSOR_LENGTH

# str(uuid.uuid4()): what checkout and the after-sale routes make their ids with.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CART_ID_PATTERN = r"^[0-9a-f]{32}$"  # uuid.uuid4().hex, as the cart store makes it
PRINTABLE_PATTERN = r"^[\x20-\x7e]+$"  # printable ASCII, space included
TRACKING_NUMBER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_EXAMPLE_UUID = "3f1c8a5e-3b6d-4e0f-9a7c-5d2e8b1f6a43"

OrderId = Annotated[
    str,
    StringConstraints(pattern=UUID_PATTERN, max_length=36),
    Field(description="an order's id: a UUID, lower case", examples=[_EXAMPLE_UUID]),
]
ReturnId = Annotated[
    str,
    StringConstraints(pattern=UUID_PATTERN, max_length=36),
    Field(description="a return's id: a UUID, lower case", examples=[_EXAMPLE_UUID]),
]
CartId = Annotated[
    str,
    StringConstraints(pattern=CART_ID_PATTERN, max_length=32),
    Field(description="a cart's id: 32 lower-case hex digits",
          examples=["9f86d081884c4d659a2feaa0c55ad015"]),
]  # fmt: skip
Sku = Annotated[
    str,
    StringConstraints(pattern=SKU_PATTERN, max_length=64),
    Field(description="a product's sku: up to 64 letters, digits, `.`, `_`, `-`, starting with"
          " a letter or digit", examples=["MUG-LOGO"]),
]  # fmt: skip
WebhookId = Annotated[UUID, Field(description="a webhook subscription's id")]
DeliveryId = Annotated[UUID, Field(description="a webhook delivery's id")]
IdempotencyKey = Annotated[
    str,
    StringConstraints(pattern=PRINTABLE_PATTERN, max_length=200),
    Field(description="the client's key for one request: 1 to 200 printable ASCII characters"
          " (a UUID is a good one)", examples=[_EXAMPLE_UUID]),
]  # fmt: skip
CarrierEventId = Annotated[
    str,
    StringConstraints(pattern=PRINTABLE_PATTERN, max_length=200),
    Field(description="the carrier's id of its report: 1 to 200 printable ASCII characters"),
]
TrackingNumber = Annotated[
    str,
    StringConstraints(pattern=TRACKING_NUMBER_PATTERN, max_length=64),
    Field(description="a parcel's tracking number: up to 64 letters, digits, `.`, `_`, `-`"),
]
Cursor = Annotated[
    str,
    StringConstraints(pattern=CURSOR_PATTERN, max_length=MAX_CURSOR_LENGTH),
    Field(description="`next_cursor` of the previous page of the same list; none for the first"),
]

# The same types where a route takes them from the query or the headers.
CursorQuery = Annotated[Cursor | None, Query()]
IdempotencyKeyHeader = Annotated[IdempotencyKey | None, Header()]
