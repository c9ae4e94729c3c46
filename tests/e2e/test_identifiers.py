"""Every identifier a request carries is checked by its one type before it reaches a key, a query
or a path: a value that does not fit is a 422 problem naming the field. Every list's cursor is
checked the same way: one that is not the list's own, or names a position no item can have, is a
422, never a 500 or a wait on a server. Parametrized over the app's own OpenAPI document, so a new
route or list is covered without being named here."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from api.routers.carrier import signature, webhook_secret
from commerce.settings import Settings
from eventstore.webhook_subscriptions import WebhookSubscriptions
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.openapi_fields import (
    IdField,
    document,
    good_value,
    id_fields,
    list_operations,
    without_null,
)

_DOCUMENT = document()
_ID_FIELDS = id_fields(_DOCUMENT)
_LISTS = list_operations(_DOCUMENT)

# Not one fits any identifier of this API: a space, NUL, a letter outside ASCII, a length past
# every limit, nothing at all.
_BAD_TEXT = ["not an id", "a\x00b", "é", "x" * 5000]
_BAD_VALUES: dict[str, list[Any]] = {
    "path": _BAD_TEXT,
    "query": _BAD_TEXT,
    "header": [b"\xe9t\xe9", b"a\x01b", b"k" * 201, b""],
    "body": [*_BAD_TEXT, ""],
}


def test_the_document_parametrized_over_is_the_apps(app: FastAPI) -> None:
    assert app.openapi()["paths"].keys() == _DOCUMENT["paths"].keys()
    assert len(_ID_FIELDS) > 40 and len(_LISTS) >= 6


def test_each_identifier_has_one_type_in_the_openapi_document() -> None:
    """The same name has the same schema everywhere, and that schema says what fits (a
    pattern, a format or a list of values): the document shows clients the rule we apply."""
    by_name: dict[str, list[IdField]] = {}
    for field in _ID_FIELDS:
        by_name.setdefault(field.name.rsplit(".", 1)[-1], []).append(field)
    untyped = [str(f) for f in _ID_FIELDS if not _typed(f.schema)]
    assert not untyped, "identifiers without a type:\n" + "\n".join(untyped)
    for name, fields in by_name.items():
        schemas = {json.dumps(_rule(f.schema), sort_keys=True) for f in fields}
        assert len(schemas) == 1, f"{name} has {len(schemas)} types: {[str(f) for f in fields]}"


def _typed(schema: dict[str, Any]) -> bool:
    return (
        "enum" in schema
        or schema.get("format") == "uuid"
        or {"pattern", "maxLength"} <= schema.keys()
    )


def _rule(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k not in {"title", "description", "default"}}


def _request(field: IdField, bad: Any) -> dict[str, Any]:
    """The request of `field`'s operation with `bad` in that field and every other path
    parameter fitting its type."""
    operation = _DOCUMENT["paths"][field.path][field.method.lower()]
    path = field.path
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            name = parameter["name"]
            value = bad if (field.location, field.name) == ("path", name) else None
            value = value if value is not None else good_value(name, without_null(
                _DOCUMENT, parameter["schema"]
            ))  # fmt: skip
            path = path.replace("{" + name + "}", quote(value, safe=""))
    request: dict[str, Any] = {"method": field.method, "url": path}
    if field.location == "query":
        request["params"] = {field.name: bad}
    elif field.location == "header":
        request["headers"] = {field.name: bad}
    elif field.location == "body":
        body: Any = bad
        for part in reversed(field.name.split(".")):
            body = [body] if part == "0" else {part: body}
        request["json"] = body
    return request


@pytest.mark.parametrize("field", _ID_FIELDS, ids=str)
async def test_an_identifier_that_does_not_fit_its_type_is_a_422_naming_it(
    http: httpx.AsyncClient, admin: Caller, customer: Caller, field: IdField
) -> None:
    who = admin if "/admin/" in field.path else customer
    for bad in _BAD_VALUES[field.location]:
        request = _request(field, bad)
        request["headers"] = {**who.headers, **request.get("headers", {})}
        answer = await http.request(**request)
        assert answer.status_code == 422, (bad, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        named = [e["field"] for e in answer.json().get("errors", [])]
        assert f"{field.location}.{field.name}" in named, (bad, answer.text)


@pytest.mark.parametrize("field", ["event_id", "order_id", "tracking_number"])
async def test_a_signed_carrier_event_with_an_identifier_that_does_not_fit_is_a_422(
    http: httpx.AsyncClient, settings: Settings, field: str
) -> None:
    secret = webhook_secret(settings)
    assert secret is not None
    for bad in ["a\x00b", "é", "x" * 5000, ""]:  # a carrier's event id may hold spaces
        event = {
            "event_id": f"evt-{uuid.uuid4()}", "order_id": str(uuid.uuid4()),
            "status": "dispatched", "occurred_at": "2025-06-01T12:00:00Z", field: bad,
        }  # fmt: skip
        raw = json.dumps(event).encode()
        answer = await http.post(
            "/api/v1/carrier/events",
            content=raw,
            headers={"content-type": "application/json", "X-Carrier-Signature": signature(
                secret, raw
            )},
        )  # fmt: skip
        assert answer.status_code == 422, (bad, answer.text)
        assert field in answer.text


def test_every_list_takes_a_cursor_and_hands_the_next_one_back() -> None:
    for path in _LISTS:
        operation = _DOCUMENT["paths"][path]["get"]
        assert "cursor" in [p["name"] for p in operation["parameters"]], path
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]
        schema = _DOCUMENT["components"]["schemas"][page["$ref"].rsplit("/", 1)[-1]]
        assert "next_cursor" in schema["properties"], path


def _b64(raw: bytes | str) -> str:
    raw = raw.encode() if isinstance(raw, str) else raw
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


_ID = str(uuid.uuid4())
_TEMPORAL_TOKEN = {"CloseTime": "99999-01-01T00:00:00Z", "StartTime": "0001-01-01", "RunID": _ID}
_JUNK_JSON = '{"CloseTime": [1, {}], "RunID": 7}'
_FORGED = _b64(bytes(16))
# Positions no item of any list can have, as a list's own cursor would carry them.
_POSITIONS = {
    "year 99999": f"99999-01-01T00:00:00+00:00|{_ID}",
    "year 0": f"0000-01-01T00:00:00+00:00|{_ID}",
    "before year 1 in UTC": f"0001-01-01T00:00:00+14:00|{_ID}",
    "after year 9999 in UTC": f"9999-12-31T23:59:59-14:00|{_ID}",
    "no time zone": f"2024-01-01T00:00:00|{_ID}",
    "a date only": f"2024-01-01|{_ID}",
    "not an id": "2024-01-01T00:00:00+00:00|not an id",
    "a NUL": "2024-01-01T00:00:00+00:00|a\x00b",
    "too many parts": "a|b|c|d|e|f",
    "empty parts": "||",
    "not a sku": " bad sku",
    # Temporal's page tokens, with a forged seal: Temporal would fail on each, not refuse it.
    "a Temporal token of garbage": f"{_b64(bytes(range(256)))}|{_FORGED}",
    "a Temporal token of year 99999": f"{_b64(json.dumps(_TEMPORAL_TOKEN))}|{_FORGED}",
    "a Temporal token of junk JSON": f"{_b64(_JUNK_JSON)}|{_FORGED}",
}
_LIST_NAMES = ["", "orders", "products", "sagas", "returns", "webhooks", "deliveries"]
# Cursors that are not even text in a cursor's alphabet.
_RAW = {
    "garbage bytes": _b64(bytes(range(256))),
    "NUL": "\x00",
    "not base64": "!!!",
    "padding only": "====",
    "past any length": "A" * 5000,
}


@pytest.fixture
async def subscriptions(pool: asyncpg.Pool) -> AsyncIterator[list[str]]:
    """Two inactive webhook subscriptions (so their list pages), removed afterwards."""
    store = WebhookSubscriptions(pool)
    made = [
        await store.create("http://127.0.0.1:9/never", ["*"], False, "cursor test", b"sealed")
        for _ in range(2)
    ]
    yield [str(s.id) for s in made]
    for subscription in made:
        await store.delete(subscription.id)


def _url(path: str, subscription_id: str) -> str:
    return path.replace("{webhook_id}", subscription_id)


def _caller(path: str, admin: Caller, customer: Caller) -> Caller:
    return admin if "/admin/" in path else customer


async def _refused(http: httpx.AsyncClient, url: str, who: Caller, cursor: str) -> None:
    answer = await http.get(url, params={"cursor": cursor, "limit": 1}, headers=who.headers)
    assert answer.status_code == 422, (url, cursor, answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", _LISTS)
@pytest.mark.parametrize("position", _POSITIONS.values(), ids=list(_POSITIONS))
async def test_a_cursor_naming_an_impossible_position_is_a_422(
    http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    subscriptions: list[str],
    path: str,
    position: str,
) -> None:
    url, who = _url(path, subscriptions[0]), _caller(path, admin, customer)
    for name in _LIST_NAMES:
        await _refused(http, url, who, _b64(f"{name}|{position}" if name else position))


@pytest.mark.parametrize("path", _LISTS)
@pytest.mark.parametrize("cursor", _RAW.values(), ids=list(_RAW))
async def test_a_cursor_that_is_not_one_is_a_422(
    http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    subscriptions: list[str],
    path: str,
    cursor: str,
) -> None:
    await _refused(http, _url(path, subscriptions[0]), _caller(path, admin, customer), cursor)


async def test_a_cursor_of_another_list_is_a_422(
    http: httpx.AsyncClient,
    admin: Caller,
    customer: Caller,
    subscriptions: list[str],
    create_product: CreateProduct,
) -> None:
    await create_product()
    await create_product()
    handed_out: dict[str, str] = {}
    for path in ("/api/v1/products", "/api/v1/admin/webhooks"):
        page = await http.get(path, params={"limit": 1}, headers=admin.headers)
        assert page.status_code == 200 and page.json()["next_cursor"], page.text
        handed_out[path] = page.json()["next_cursor"]
        again = await http.get(path, params={"limit": 1, "cursor": handed_out[path]},
                               headers=admin.headers)  # fmt: skip
        assert again.status_code == 200, again.text  # a list's own cursor pages on
    for path in _LISTS:
        for source, cursor in handed_out.items():
            if source != path:
                await _refused(
                    http, _url(path, subscriptions[0]), _caller(path, admin, customer), cursor
                )


# Each is a real time with its zone, but outside years 1 to 9999 once in UTC.
_UNREPRESENTABLE = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
_TIME_FIELDS = [
    (path, parameter["name"])
    for path, operations in _DOCUMENT["paths"].items()
    for parameter in operations.get("get", {}).get("parameters", [])
    if without_null(_DOCUMENT, parameter["schema"]).get("format") == "date-time"
]


@pytest.mark.parametrize(("path", "name"), _TIME_FIELDS)
async def test_a_time_in_a_query_that_utc_cannot_hold_is_a_422(
    http: httpx.AsyncClient, admin: Caller, customer: Caller, path: str, name: str
) -> None:
    for moment in _UNREPRESENTABLE:
        answer = await http.get(
            path, params={name: moment}, headers=_caller(path, admin, customer).headers
        )
        assert answer.status_code == 422, (moment, answer.text)
        assert f"query.{name}" in [e["field"] for e in answer.json()["errors"]]


async def test_a_signed_carrier_event_at_a_time_utc_cannot_hold_is_a_422(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    secret = webhook_secret(settings)
    assert secret is not None
    for moment in _UNREPRESENTABLE:
        event = {"event_id": f"evt-{uuid.uuid4()}", "order_id": str(uuid.uuid4()),
                 "status": "dispatched", "occurred_at": moment}  # fmt: skip
        raw = json.dumps(event).encode()
        headers = {"content-type": "application/json", "X-Carrier-Signature": signature(
            secret, raw
        )}  # fmt: skip
        answer = await http.post("/api/v1/carrier/events", content=raw, headers=headers)
        assert answer.status_code == 422, (moment, answer.text)
        assert "occurred_at" in answer.text
