"""What the deployment files are checked against: the repository root and the settings' names."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from commerce.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def setting_env_names() -> set[str]:
    """Every environment variable `Settings` reads: `COMMERCE_<FIELD>` or the field's aliases."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"COMMERCE_{field_name.upper()}")
    return names


def is_known_env(name: str) -> bool:
    """A setting of ours, or an OpenTelemetry SDK variable (`OTEL_*`)."""
    return name in setting_env_names() or name.startswith("OTEL_")
