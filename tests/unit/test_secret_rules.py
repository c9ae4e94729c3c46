"""The rules a secret setting meets in production (commerce/secret_rules.py), without I/O."""

from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import ValidationError

from commerce.payload_keys import key_spec_weakness, new_key_spec
from commerce.secret_rules import is_published, text_secret_weakness, weakness
from commerce.settings import Settings

# Values this repository shows (and so everyone knows): the placeholders deploy/k8s/secret.yaml
# used to ship, the removed development default, the suite's own constants.
PUBLISHED = [
    "REPLACE-ME-with-a-long-random-string",
    "dev-only-secret-change-me-0123456789abcdef",
    "test-secret-for-the-suite-only-0123456789",
    "a-long-random-secret-for-this-test-0123456789",
]
ZERO_KEY = "replace-me:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
# A key published here on purpose: random bytes, so only the published rule refuses it.
PUBLISHED_KEY = "Xq3vJ0cP7mZ2tL9sR4wB8nE1yK6uH5aF0gD3jV2iO7Q="


def production(**values: object) -> Settings:
    strong = {
        "jwt_secret": secrets.token_hex(32),
        "payload_keys": new_key_spec("k1"),
        "customer_key_secret": secrets.token_hex(32),
        "jwt_issuer": "https://auth.shop.test/",
        "jwt_audience": "commerce-api",
    }
    return Settings(environment="production", **{**strong, **values})  # type: ignore[arg-type]


@pytest.mark.parametrize("value", PUBLISHED)
def test_values_shown_in_this_repository_are_published(value: str) -> None:
    assert is_published(value)
    assert is_published(f"prefix-{value}-suffix"), "a published value inside is still published"
    assert "published in this repository" in str(text_secret_weakness(value))


def test_generated_secrets_pass() -> None:
    for _ in range(200):
        assert text_secret_weakness(secrets.token_hex(16)) is None
        assert text_secret_weakness(secrets.token_urlsafe(32)) is None
        assert key_spec_weakness(new_key_spec("k1")) is None
        assert weakness(secrets.token_bytes(16), 16) is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x", "at least 32"),
        ("correct-horse-battery", "at least 32"),
        ("x" * 40, "one byte repeated"),
        ("ab" * 20, "repeats a shorter pattern"),
        ("0123456789abcdef" * 3, "repeats a shorter pattern"),
        (bytes(range(65, 97)).decode(), "run of consecutive"),  # "ABC…XYZ[\\]^_`"
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "too little entropy"),
        ("abababababababababababababababcd", "too little entropy"),
    ],
)
def test_weak_text_secrets_are_refused_with_the_reason(value: str, reason: str) -> None:
    assert reason in str(text_secret_weakness(value))


def test_weak_payload_keys_are_refused() -> None:
    assert "one byte repeated" in str(key_spec_weakness(ZERO_KEY))
    assert "published" in str(key_spec_weakness(f"k1:{PUBLISHED_KEY}"))
    assert "'k2'" in str(key_spec_weakness(f"{new_key_spec('k1')},k2:{PUBLISHED_KEY}"))
    ones = base64.b64encode(b"\x01" * 32).decode()
    assert "one byte repeated" in str(key_spec_weakness(f"k1:{ones}"))


@pytest.mark.parametrize(
    ("field", "value", "setting"),
    [
        ("jwt_secret", "x", "COMMERCE_JWT_SECRET"),
        ("jwt_secret", PUBLISHED[0], "COMMERCE_JWT_SECRET"),
        ("payload_keys", ZERO_KEY, "COMMERCE_PAYLOAD_KEYS"),
        ("payload_keys", f"k1:{PUBLISHED_KEY}", "COMMERCE_PAYLOAD_KEYS"),
        ("carrier_webhook_secret", "x" * 40, "COMMERCE_CARRIER_WEBHOOK_SECRET"),
        ("customer_key_secret", PUBLISHED[2], "COMMERCE_CUSTOMER_KEY_SECRET"),
        ("temporal_api_key", "short", "TEMPORAL_API_KEY"),
    ],
)
def test_production_refuses_a_weak_secret_naming_the_setting_not_the_value(
    field: str, value: str, setting: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        production(**{field: value})
    [error] = refused.value.errors()
    assert error["msg"].removeprefix("Value error, ").startswith(f"{setting}: ")
    assert len(value) < 8 or value not in error["msg"]


def test_development_accepts_any_value_and_production_a_strong_one() -> None:
    Settings(jwt_secret="x", payload_keys=ZERO_KEY, carrier_webhook_secret="x")
    settings = production(carrier_webhook_secret=secrets.token_hex(32))
    assert settings.environment == "production"


@pytest.mark.parametrize(
    "missing", ["payload_keys", "jwt_issuer", "jwt_audience", "customer_key_secret"]
)
def test_production_requires_each_secret_and_the_token_issuer_and_audience(missing: str) -> None:
    with pytest.raises(ValidationError, match=Settings.env_name(missing) + ": required"):
        production(**{missing: None})


def test_production_needs_a_jwt_secret_or_a_jwks_url_and_never_both() -> None:
    with pytest.raises(ValidationError, match="COMMERCE_JWT_SECRET or COMMERCE_JWT_JWKS_URL"):
        production(jwt_secret=None)
    production(jwt_secret=None, jwt_jwks_url="https://auth.shop.test/jwks.json")
    with pytest.raises(ValidationError, match="leave it unset with COMMERCE_JWT_JWKS_URL"):
        Settings(jwt_secret=secrets.token_hex(32), jwt_jwks_url="https://auth.shop.test/jwks")
