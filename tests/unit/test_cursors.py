"""List cursors: each list reads back only its own, and only positions an item can have."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from api.page_tokens import PageTokens
from eventstore.cursors import (
    CursorFormat,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
    matching,
    timestamp,
    uuid_text,
)

ORDERS = CursorFormat("orders", (timestamp, uuid_text))
SKUS = CursorFormat("products", (matching(r"^[A-Z][A-Z0-9-]{0,63}$"),))
_ID = str(uuid.uuid4())


def test_a_position_comes_back_as_it_was_written() -> None:
    at = datetime(2025, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert ORDERS.decode(ORDERS.encode(at, _ID)) == (at, _ID)
    assert SKUS.decode(SKUS.encode("MUG-1")) == ("MUG-1",)
    assert ORDERS.decode(None) is None and ORDERS.decode("") is None


def test_a_time_in_another_zone_is_read_in_utc() -> None:
    at = datetime(2025, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    decoded = ORDERS.decode(ORDERS.encode(at, _ID))
    assert decoded is not None and decoded[0] == at and decoded[0].tzinfo is UTC


@pytest.mark.parametrize(
    "position",
    [
        ["99999-01-01T00:00:00+00:00", _ID],  # past what any item can hold
        ["0000-01-01T00:00:00+00:00", _ID],
        ["0001-01-01T00:00:00+14:00", _ID],  # before year 1 once in UTC
        ["9999-12-31T23:59:59-14:00", _ID],  # after year 9999 once in UTC
        ["2025-06-01T12:00:00", _ID],  # no zone: the database would guess one
        ["2025-06-01", _ID],
        ["yesterday", _ID],
        ["2025-06-01T12:00:00+00:00", "not-a-uuid"],
        ["2025-06-01T12:00:00+00:00", _ID.upper()],  # not the text the service writes
        ["2025-06-01T12:00:00+00:00"],  # too few parts
        ["2025-06-01T12:00:00+00:00", _ID, "more"],  # too many
    ],
)
def test_a_position_no_item_can_have_is_refused(position: list[str]) -> None:
    with pytest.raises(InvalidCursor):
        ORDERS.decode(encode_cursor("orders", *position))


def test_a_cursor_of_another_list_is_refused() -> None:
    at = datetime(2025, 6, 1, tzinfo=UTC)
    with pytest.raises(InvalidCursor):
        CursorFormat("webhooks", (timestamp, uuid_text)).decode(ORDERS.encode(at, _ID))
    with pytest.raises(InvalidCursor):
        SKUS.decode(ORDERS.encode(at, _ID))
    with pytest.raises(InvalidCursor):
        ORDERS.decode(encode_cursor(at.isoformat(), _ID))  # no list named: not one of ours


@pytest.mark.parametrize(
    "cursor",
    ["!!!", "a", "====", "\x00", "AAEC_-8", encode_cursor("products", "a\x00b"), "bad sku"],
)
def test_what_is_not_a_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        SKUS.decode(cursor)


def test_a_sku_outside_the_pattern_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        SKUS.decode(encode_cursor("products", "-starts-with-a-dash"))


def test_a_part_holding_the_separator_cannot_be_written() -> None:
    with pytest.raises(ValueError):
        SKUS.encode("A|B")


def test_a_sealed_temporal_token_opens_only_for_its_list_and_key() -> None:
    tokens = PageTokens(b"k" * 32)
    token = b'{"CloseTime": "2025-06-01T12:00:00Z", "RunID": "r"}\x00\xff'
    cursor = tokens.seal("sagas", token)
    assert cursor is not None
    assert tokens.open("sagas", cursor) == token
    assert tokens.seal("sagas", None) is None and tokens.open("sagas", None) is None
    with pytest.raises(InvalidCursor):
        tokens.open("returns", cursor)
    with pytest.raises(InvalidCursor):
        PageTokens(b"o" * 32).open("sagas", cursor)
    name, _, seal = decode_cursor(cursor)
    another = base64.urlsafe_b64encode(b'{"CloseTime": "99999-01-01"}').decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        tokens.open("sagas", encode_cursor(name, another, seal))
