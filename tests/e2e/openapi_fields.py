"""The identifiers and lists of the API, read from its own OpenAPI document, so that a test
parametrized over them covers a new route without being told about it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from api.app import WEBHOOK_PATHS, create_app
from commerce.settings import Settings
from tests.conftest import TEST_JWT_SECRET, TEST_PAYLOAD_KEYS

_ID_HEADERS = {"idempotency-key"}


def document() -> dict[str, Any]:
    """The document of the app as the tests build it (no server is reached to make it)."""
    settings = Settings(jwt_secret=TEST_JWT_SECRET, payload_keys=TEST_PAYLOAD_KEYS)
    return create_app(settings).openapi()


@dataclass(frozen=True)
class IdField:
    """A place where a request carries an identifier: `location` is path, query, header or
    body; `name` its name there (a body field as `items.0.sku`)."""

    method: str
    path: str
    location: str
    name: str
    schema: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.path} {self.location}.{self.name}"


def _is_id(name: str) -> bool:
    return name == "sku" or name == "cursor" or name.endswith("_id") or name in _ID_HEADERS


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def without_null(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """`X | None` is `anyOf: [X, null]` in the document: X."""
    options = [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]
    return _resolve(doc, options[0]) if len(options) == 1 else schema


def _body_ids(doc: dict[str, Any], schema: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    schema = without_null(doc, _resolve(doc, schema))
    found: list[tuple[str, Any]] = []
    for name, field in schema.get("properties", {}).items():
        field = without_null(doc, _resolve(doc, field))
        if _is_id(name):
            found.append((f"{prefix}{name}", field))
        elif field.get("type") == "object" or "properties" in field:
            found += _body_ids(doc, field, f"{prefix}{name}.")
        elif field.get("type") == "array" and "items" in field:
            found += _body_ids(doc, field["items"], f"{prefix}{name}.0.")
    return found


def id_fields(doc: dict[str, Any]) -> list[IdField]:
    """Every path parameter, every id-named query parameter, header and body field of /api/v1
    (the signed webhooks' bodies are the senders' documents, checked in their own tests)."""
    fields: list[IdField] = []
    for path, operations in doc["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where, name = parameter["in"], parameter["name"]
                if where == "path" or _is_id(name):
                    schema = without_null(doc, parameter["schema"])
                    fields.append(IdField(method.upper(), path, where, name, schema))
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content and path not in WEBHOOK_PATHS:
                for name, schema in _body_ids(doc, content["application/json"]["schema"], ""):
                    fields.append(IdField(method.upper(), path, "body", name, schema))
    return fields


def list_operations(doc: dict[str, Any]) -> list[str]:
    """The paths of every GET that pages (takes `limit`)."""
    return [
        path
        for path, operations in doc["paths"].items()
        if any(p["name"] == "limit" for p in operations.get("get", {}).get("parameters", []))
    ]


_GOOD = {"cart_id": lambda: uuid.uuid4().hex, "sku": lambda: "SKU-1"}


def good_value(name: str, schema: dict[str, Any]) -> str:
    """A value that fits the parameter, so that a request fails only on the field under test."""
    if "enum" in schema:
        return str(schema["enum"][0])
    return _GOOD.get(name, lambda: str(uuid.uuid4()))()
