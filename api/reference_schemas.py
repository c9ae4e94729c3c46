"""JSON Schema (as the API's OpenAPI document holds it) written as Markdown for docs/api.md."""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]


def component(name: str, schema: Schema) -> list[str]:
    """One of the document's `components/schemas`: its description, then a row per field."""
    lines = [f"### {name}\n"]
    if schema.get("description"):
        lines.append(schema["description"].strip() + "\n")
    if "enum" in schema:
        return [*lines, f"One of {type_text(schema)}.\n"]
    properties = schema.get("properties", {})
    if not properties:
        return [*lines, f"{type_text(schema)}\n"]
    required = set(schema.get("required", []))
    lines += ["| field | type | required | description |", "|---|---|---|---|"]
    lines += [row(f"`{field}`", type_text(prop), yes(field in required), prop.get("description", ""))
              for field, prop in properties.items()]  # fmt: skip
    lines.append("")
    return lines


def type_text(schema: Schema) -> str:
    """`integer (≥ 1)`, `[Cart](#cart)`, `list of string`, `"a" or "b"`, `X or null`..."""
    if ref := schema.get("$ref"):
        name = ref.rpartition("/")[2]
        return f"[{name}](#{name.lower()})"
    if "enum" in schema:
        return " or ".join(f'`"{v}"`' if isinstance(v, str) else f"`{v}`" for v in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            text = " or ".join(type_text(option) for option in schema[key])
            return text + _limits(schema)
    kind = schema.get("type", "any")
    if kind == "array":
        text = f"list of {type_text(schema.get('items', {}))}"
    elif kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        text = f"object of {type_text(schema['additionalProperties'])}"
    else:
        text = f"{kind} ({schema['format']})" if "format" in schema else str(kind)
    return text + _limits(schema)


_LIMITS = (("minLength", "length ≥ {}"), ("maxLength", "length ≤ {}"), ("minimum", "≥ {}"),
           ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"), ("exclusiveMaximum", "< {}"),
           ("minItems", "≥ {} items"), ("maxItems", "≤ {} items"), ("pattern", "matching `{}`"))  # fmt: skip


def _limits(schema: Schema) -> str:
    found = [text.format(_plain(schema[key])) for key, text in _LIMITS if key in schema]
    if "default" in schema:  # as JSON: `"USD"`, `50`, `null`
        found.append(f"default `{json.dumps(schema['default'])}`")
    return f" ({', '.join(found)})" if found else ""


def _plain(value: Any) -> str:
    """A bound as written: `1000`, not the `1000.0` pydantic gives for `le=1000`."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def yes(flag: object) -> str:
    return "yes" if flag else "no"


def row(*cells: object) -> str:
    return "| " + " | ".join(" ".join(str(c).split()).replace("|", "\\|") for c in cells) + " |"
