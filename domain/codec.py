"""Conversion between frozen dataclasses and JSON-safe data, driven by type hints."""

from dataclasses import MISSING, Field, fields, is_dataclass
from typing import Any, get_args, get_origin, get_type_hints


def encode(value: Any) -> Any:
    """Turn dataclasses into dicts and tuples into lists, recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [encode(item) for item in value]
    return value


def decode(hint: Any, value: Any) -> Any:
    """Rebuild a value of type `hint` from what `encode` produced. A field added to a class
    later, with a default, takes its default when stored data predates it."""
    if get_origin(hint) is tuple:
        item_hint = get_args(hint)[0]
        return tuple(decode(item_hint, item) for item in value)
    if is_dataclass(hint) and isinstance(hint, type):
        hints = get_type_hints(hint)
        return hint(
            **{
                f.name: decode(hints[f.name], value[f.name])
                for f in fields(hint)
                if f.name in value or not _has_default(f)
            }
        )
    return value


def _has_default(field: Field[Any]) -> bool:
    return field.default is not MISSING or field.default_factory is not MISSING
