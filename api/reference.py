"""docs/api.md, the route reference, written from the app's own OpenAPI schema.

    make api-docs                           # = python -m api.reference docs/api.md
    python -m api.reference                 # to stdout

Every route with who may call it, its parameters, body, answers and errors, then every schema
the routes name. tests/unit/test_api_reference.py fails when docs/api.md differs from what this
writes, so the reference cannot go stale: run the command above after changing a route.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from api import routers
from api.app import create_app
from api.auth import authenticate, require_admin, require_customer
from api.reference_schemas import Schema, component, row, type_text, yes
from commerce.settings import Settings

COMMAND = "make api-docs"  # = .venv/bin/python -m api.reference docs/api.md
# (dependency, who may call, the 403 when the token's roles do not fit)
_CALLERS = ((require_admin, "admin token", "not an admin"),
            (require_customer, "customer (or admin) token", "neither customer nor admin"),
            (authenticate, "any valid token", None))  # fmt: skip
_INTRO = f"""# HTTP API reference

Generated from the API's OpenAPI schema by `{COMMAND}` (`python -m api.reference
docs/api.md`); do not edit by hand: a test fails when the two differ. The rules behind
the routes are explained in the README and the other pages of `docs/`; a running API serves
the same schema at `/docs` (development).

Every error is `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`,
`request_id`; a 422 for a malformed request also lists `errors`, one `{{"field", "message",
"type"}}` per offending field. Any route may also answer: 413 when the body is over
`COMMERCE_MAX_BODY_BYTES` (webhooks: `COMMERCE_WEBHOOK_MAX_BODY_BYTES`); 429 with
`Retry-After` when a write (POST, PUT, PATCH, DELETE) is over the client's or customer's
budget; 503 with `Retry-After` when a dependency (PostgreSQL, Redis, Temporal) does not answer
or the process is at `COMMERCE_MAX_REQUESTS_IN_FLIGHT`. Money is in minor units of its
`currency`; times are RFC 3339.
"""


class _Defaults(Settings):
    """The settings' defaults alone (no environment, no .env): the same reference anywhere."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def reference_app() -> FastAPI:
    """The API as `make run` builds it, with every default setting."""
    return create_app(_Defaults())


def render(app: FastAPI) -> str:
    """The whole reference as Markdown."""
    schema = app.openapi()
    callers = _callers()
    lines = [_INTRO]
    for tag, operations in _by_tag(schema).items():
        lines.append(f"## {tag}\n")
        for method, path, operation in operations:
            lines += _operation(method, path, operation, callers.get((method, path)))
    lines.append("## Schemas\n")
    for name, component_schema in schema.get("components", {}).get("schemas", {}).items():
        if name not in ("HTTPValidationError", "ValidationError"):  # answered as problem+json
            lines += component(name, component_schema)
    return "\n".join(lines).rstrip() + "\n"


def _by_tag(schema: Schema) -> dict[str, list[tuple[str, str, Schema]]]:
    grouped: dict[str, list[tuple[str, str, Schema]]] = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            tag = (operation.get("tags") or ["other"])[0]
            grouped.setdefault(tag, []).append((method, path, operation))
    return grouped


def _operation(
    method: str, path: str, op: Schema, caller: tuple[str, str | None] | None
) -> list[str]:
    anyone = "anyone, a bearer token optional" if op.get("security") else "anyone, no bearer token"
    who = caller[0] if caller else anyone
    lines = [f"### {method.upper()} `{path}`\n", f"{op.get('summary', '')}. Caller: {who}.\n"]
    if op.get("description"):
        lines.append(op["description"].strip() + "\n")
    if params := op.get("parameters"):
        lines += ["| parameter | in | type | required | description |", "|---|---|---|---|---|"]
        lines += [
            row(p["name"], p["in"], type_text(p.get("schema", {})), yes(p.get("required")),
                 p.get("description") or p.get("schema", {}).get("description", ""))
            for p in params
        ]  # fmt: skip
        lines.append("")
    if body := op.get("requestBody"):
        for media, content in body.get("content", {}).items():
            required = "required" if body.get("required") else "optional"
            lines.append(f"Body ({media}, {required}): {type_text(content.get('schema', {}))}\n")
    answers = {s: (_body(answer), _meaning(s, answer)) for s, answer in op["responses"].items()}
    for status, meaning in _auth_errors(caller):
        answers.setdefault(status, ("problem+json", meaning))
    lines += ["| answer | body | meaning |", "|---|---|---|"]
    lines += [row(status, *answers[status]) for status in sorted(answers)]
    lines.append("")
    return lines


def _callers() -> dict[tuple[str, str], tuple[str, str | None] | None]:
    """(method, path) → the token a route requires, from the auth dependencies of the routes of
    every `api.routers` module (the schema says a bearer token is read, not whose)."""
    found: dict[tuple[str, str], tuple[str, str | None] | None] = {}
    for module in pkgutil.iter_modules(routers.__path__):
        router = importlib.import_module(f"{routers.__name__}.{module.name}").router
        for route in (r for r in router.routes if isinstance(r, APIRoute)):
            calls = set(_calls(route.dependant))
            caller = next(((who, no) for call, who, no in _CALLERS if call in calls), None)
            found |= {(method.lower(), route.path): caller for method in route.methods or ()}
    return found


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _auth_errors(caller: tuple[str, str | None] | None) -> list[tuple[str, str]]:
    if caller is None:
        return []
    errors = [("401", "no valid bearer token")]
    return errors + ([("403", caller[1])] if caller[1] else [])


def _body(answer: Schema) -> str:
    content = answer.get("content", {})
    if not content:
        return "none"
    media, schema = next(iter(content.items()))
    if media == "application/json" and schema.get("schema", {}).get("$ref", "").endswith(
        "/HTTPValidationError"
    ):
        return "problem+json"
    return type_text(schema.get("schema", {})) + (
        "" if media == "application/json" else f" ({media})"
    )


def _meaning(status: str, answer: Schema) -> str:
    meaning = answer.get("description", "")
    if status == "422" and meaning == "Validation Error":
        return "the request is malformed (`errors` names each field)"
    return "" if meaning == "Successful Response" else meaning


def main(argv: list[str]) -> int:
    text = render(reference_app())
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
