"""docs/configuration.md names every setting the service reads, by its environment variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices

from commerce.settings import Settings

PAGE = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def environment_names(field_name: str) -> list[str]:
    """The variables one setting is read from: its aliases, else `COMMERCE_` + its name."""
    alias = Settings.model_fields[field_name].validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [f"COMMERCE_{field_name.upper()}"]


def test_every_setting_has_a_row() -> None:
    page = PAGE.read_text()
    missing = [
        environment_names(name)[0]
        for name in Settings.model_fields
        if not any(f"`{variable}`" in page for variable in environment_names(name))
    ]
    assert not missing, f"not in {PAGE.name}: {missing}"


def test_the_page_names_no_setting_that_is_gone() -> None:
    known = {variable for name in Settings.model_fields for variable in environment_names(name)}
    named = {word.strip("`") for word in PAGE.read_text().split() if word.startswith("`COMMERCE_")}
    named = {word.split("=")[0].rstrip("`,.;)") for word in named}
    assert not named - known
