"""docs/api.md is exactly what `make api-docs` writes from today's routes, and covers them all."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import pytest
from fastapi import FastAPI

from api.reference import COMMAND, reference_app, render

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return reference_app()


def test_docs_api_md_is_what_the_routes_say_today(app: FastAPI) -> None:
    written, expected = REFERENCE.read_text(), render(app)

    drift = difflib.unified_diff(
        written.splitlines(), expected.splitlines(), "docs/api.md", "routes today", lineterm="", n=1
    )
    assert written == expected, (
        f"docs/api.md is stale: a route changed. Regenerate it with `{COMMAND}` and commit it."
        "\n" + "\n".join(list(drift)[:60])
    )


def test_every_route_has_its_section_and_every_named_schema_its_own(app: FastAPI) -> None:
    schema, text = app.openapi(), render(app)
    headings = set(re.findall(r"^### (.+)$", text, flags=re.MULTILINE))

    routes = {f"{m.upper()} `{path}`" for path, ops in schema["paths"].items() for m in ops}
    links = set(re.findall(r"\]\(#([a-z0-9_]+)\)", text))

    assert len(routes) > 40 and routes <= headings
    assert links <= {heading.lower() for heading in headings}, "a link to a schema not written"


def test_the_caller_and_its_auth_errors_come_from_each_route(app: FastAPI) -> None:
    text = render(app)

    def section(title: str) -> str:
        return text.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]

    admin = section("GET `/api/v1/admin/sagas`")
    customer = section("POST `/api/v1/orders/`")
    live = section("GET `/health/live`")
    assert "Caller: admin token." in admin and "| 403 | problem+json | not an admin |" in admin
    assert "Caller: customer (or admin) token." in customer and "| 401 |" in customer
    assert "[CheckoutCreate](#checkoutcreate)" in customer
    assert "| 202 | [OrderPublic](#orderpublic) |" in customer
    assert "Caller: anyone, no bearer token." in live and "| 401 |" not in live
