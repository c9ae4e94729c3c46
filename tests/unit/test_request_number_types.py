"""Numbers and flags in request bodies are taken only as JSON numbers and booleans: a quantity
`"2"` or `true`, an amount `"10"`, a flag `1` or `"true"` is 422, never coerced into a charge,
a refund or a cart line. Every body of every route is checked, nested models included."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import api
from api.app import create_app
from commerce.settings import Settings
from tests.conftest import TEST_JWT_SECRET

WRONG = {"integer": ["2", True, 2.5], "boolean": ["true", 1, "yes"]}


def _request_schemas() -> dict[str, dict[str, Any]]:
    """Every component a request body refers to, directly or through another, by name."""
    document = create_app(Settings(jwt_secret=TEST_JWT_SECRET)).openapi()
    components = document["components"]["schemas"]
    found: dict[str, dict[str, Any]] = {}

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.rsplit("/", 1)[-1] not in found:
                name = ref.rsplit("/", 1)[-1]
                found[name] = components[name]
                visit(components[name])
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for operations in document["paths"].values():
        for operation in operations.values():
            visit(operation.get("requestBody", {}))
    return found


def _models() -> dict[str, type[BaseModel]]:
    models: dict[str, type[BaseModel]] = {}
    for module in pkgutil.walk_packages(api.__path__, "api."):
        for value in vars(importlib.import_module(module.name)).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                models.setdefault(value.__name__, value)
    return models


def _typed_fields() -> Iterator[tuple[type[BaseModel], str, str]]:
    models = _models()
    for name, schema in _request_schemas().items():
        for field, spec in schema.get("properties", {}).items():
            kinds = {spec.get("type")} | {one.get("type") for one in spec.get("anyOf", [])}
            for kind in kinds & set(WRONG):
                yield models[name], field, kind


FIELDS = list(_typed_fields())


def test_the_walk_finds_the_money_and_quantity_fields() -> None:
    named = {(model.__name__, field) for model, field, _ in FIELDS}
    assert {("CartItemAdd", "quantity"), ("RefundCreate", "amount")} <= named
    assert ("ReturnItemIn", "quantity") in named  # nested in ReturnCreate's items


@pytest.mark.parametrize(
    ("model", "field", "kind"), FIELDS, ids=lambda v: getattr(v, "__name__", v)
)
def test_a_number_or_flag_of_another_json_type_is_refused(
    model: type[BaseModel], field: str, kind: str
) -> None:
    for value in WRONG[kind]:
        with pytest.raises(ValidationError) as refused:
            model.model_validate({field: value})
        assert any(error["loc"][:1] == (field,) for error in refused.value.errors()), value
