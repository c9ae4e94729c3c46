"""Every knob of the service, read once from the environment (see the README's table)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AliasChoices,
    Field,
    JsonValue,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef"

EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_REDIS_PORT = 56379
EMBEDDED_TEMPORAL_PORT = 7233
EMBEDDED_TEMPORAL_UI_PORT = 8233
EMBEDDED_STRIPE_PORT = 58420

# Marks a setting that holds a secret (a key, a signing secret) so that checks of secrets apply
# to it (`secret_fields()`); such a field is a SecretStr, which never shows its value in a log.
SECRET: dict[str, JsonValue] = {"secret": True}


class Settings(BaseSettings):
    """Configuration of every commerce process. Env vars use the `COMMERCE_` prefix."""

    model_config = SettingsConfigDict(env_prefix="COMMERCE_", extra="ignore")
    _external: set[str] = PrivateAttr(default_factory=set)

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path(".data")

    # Address settings left unset mean "start the embedded server on this machine's loopback".
    embedded_postgres_port: int = Field(default=EMBEDDED_POSTGRES_PORT, ge=1, le=65535)
    embedded_redis_port: int = Field(default=EMBEDDED_REDIS_PORT, ge=1, le=65535)
    embedded_temporal_port: int = Field(default=EMBEDDED_TEMPORAL_PORT, ge=1, le=65535)
    temporal_ui_port: int = Field(default=EMBEDDED_TEMPORAL_UI_PORT, ge=1, le=65535)

    database_url: str = ""  # "" = embedded, derived below
    database_pool_min: int = Field(default=2, ge=1)
    database_pool_max: int = Field(default=20, ge=1)
    redis_url: str = ""
    redis_pool_max: int = Field(default=50, ge=1)
    temporal_address: str = Field(
        default="",
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "COMMERCE_TEMPORAL_ADDRESS"),
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "COMMERCE_TEMPORAL_NAMESPACE"),
    )
    temporal_ui_url: str = ""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8084, ge=1, le=65535)
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0 = no metrics endpoint
    worker_metrics_host: str = "127.0.0.1"
    worker_max_cached_workflows: int = Field(default=250, ge=1)  # bounds the worker's memory
    worker_sdk_metrics_port: int = Field(default=9465, ge=0, le=65535)  # Temporal SDK's own

    # Tracing is off unless an OTLP endpoint is named; the exporter reads the other OTEL_* itself.
    otel_exporter_otlp_endpoint: str = Field(
        default="", validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_service_name: str = Field(default="", validation_alias=AliasChoices("OTEL_SERVICE_NAME"))

    jwt_secret: str | None = None
    # Temporal payload encryption: "key-id:base64-key,..." and which id new payloads use.
    # Unset in development: one key is generated and kept in the data dir.
    payload_keys: str | None = None
    payload_active_key: str | None = None
    codec_port: int = Field(default=8089, ge=1, le=65535)
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_ttl_s: int = Field(default=3600, ge=1)

    cart_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)

    saga_step_max_attempts: int = Field(default=10, ge=1)
    saga_step_initial_retry_ms: int = Field(default=1000, ge=1)
    saga_stall_timeout_s: int = Field(default=86400, ge=1)
    # A completed order not reported delivered by then is marked overdue (DeliveryOverdue).
    delivery_timeout_s: int = Field(default=14 * 86400, ge=1)
    # Some lines out of stock: an amended order not accepted by then is cancelled.
    amendment_timeout_s: int = Field(default=86400, ge=1)
    # HMAC-SHA256 key of the carrier webhook. Unset: generated in the data dir in development;
    # in production the webhook answers 503 until it is set.
    carrier_webhook_secret: str | None = None

    # Payments: `sandbox` (simulated, see the README) or `stripe`. Shipping and notifications
    # are sandbox-only, so production also needs `allow_sandbox_providers` until they are real.
    payment_provider: Literal["sandbox", "stripe"] = "sandbox"
    allow_sandbox_providers: bool = False
    # "" = Stripe itself, or, under `commerce infra`/`dev` without a secret key, an embedded
    # localstripe on `embedded_stripe_port`.
    stripe_api_base: str = ""
    stripe_secret_key: SecretStr | None = Field(default=None, json_schema_extra=SECRET)
    stripe_webhook_secret: SecretStr | None = Field(default=None, json_schema_extra=SECRET)
    # Deadline of one Stripe call (seconds); a saga step has 10 s for all of its calls.
    stripe_timeout_s: float = Field(default=5.0, gt=0, le=120)
    embedded_stripe_port: int = Field(default=EMBEDDED_STRIPE_PORT, ge=1, le=65535)

    log_level: str = "INFO"
    log_json: bool = True

    @field_validator("database_url")
    @classmethod
    def _postgres_scheme(cls, url: str) -> str:
        if url and not url.startswith(("postgresql://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return url

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, url: str) -> str:
        if url and not url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return url

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, address: str) -> str:
        host, _, port = address.rpartition(":")
        if address and (not host or not port.isdigit()):
            raise ValueError("must be host:port")
        return address

    @field_validator("stripe_api_base")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _embedded_addresses(self) -> Settings:
        self._external = {
            name
            for name in ("database_url", "redis_url", "temporal_address")
            if getattr(self, name)
        }
        self.database_url = self.database_url or (
            f"postgresql://postgres@127.0.0.1:{self.embedded_postgres_port}/commerce"
        )
        self.redis_url = self.redis_url or f"redis://127.0.0.1:{self.embedded_redis_port}/0"
        self.temporal_address = self.temporal_address or f"127.0.0.1:{self.embedded_temporal_port}"
        self.temporal_ui_url = self.temporal_ui_url or f"http://127.0.0.1:{self.temporal_ui_port}"
        return self

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, spec: str | None) -> str | None:
        from commerce.payload_codec import parse_keys

        if spec is not None:
            parse_keys(spec)  # a malformed key fails at start, naming this setting
        return spec

    @model_validator(mode="after")
    def _production_needs_a_secret(self) -> Settings:
        if self.environment == "production" and not (self.jwt_secret or self.jwt_jwks_url):
            raise ValueError("production needs COMMERCE_JWT_SECRET or COMMERCE_JWT_JWKS_URL")
        if self.environment == "production" and not self.payload_keys:
            raise ValueError("production needs COMMERCE_PAYLOAD_KEYS (Temporal payload encryption)")
        if self.environment == "production" and self.jwt_secret == DEV_JWT_SECRET:
            raise ValueError("COMMERCE_JWT_SECRET is the development default")
        return self

    @model_validator(mode="after")
    def _production_stripe(self) -> Settings:
        """Production talks to Stripe itself (or a TLS proxy of it), with its keys."""
        if self.environment != "production" or self.payment_provider != "stripe":
            return self
        if self.stripe_secret_key is None:
            raise ValueError("production with Stripe needs COMMERCE_STRIPE_SECRET_KEY")
        if self.stripe_webhook_secret is None:
            raise ValueError("production with Stripe needs COMMERCE_STRIPE_WEBHOOK_SECRET")
        if self.stripe_api_base and not self.stripe_api_base.startswith("https://"):
            raise ValueError("production needs an https:// COMMERCE_STRIPE_API_BASE (or none)")
        return self

    @property
    def embeds_stripe(self) -> bool:
        """`commerce infra`/`dev` start localstripe: Stripe chosen, no server named, no key."""
        return (
            self.payment_provider == "stripe"
            and not self.stripe_api_base
            and self.stripe_secret_key is None
        )

    def sandbox_providers(self) -> list[str]:
        """The saga's providers that are simulated in this configuration."""
        simulated = ["shipping", "notifications"]  # no real adapter exists yet
        return (["payment"] if self.payment_provider == "sandbox" else []) + simulated

    def sandbox_refusal(self) -> str | None:
        """Why a production worker or API must not start (one line), or None."""
        sandbox = self.sandbox_providers()
        if self.environment != "production" or not sandbox or self.allow_sandbox_providers:
            return None
        return (
            f"production with simulated providers ({', '.join(sandbox)}): set real ones"
            " (COMMERCE_PAYMENT_PROVIDER=stripe) or COMMERCE_ALLOW_SANDBOX_PROVIDERS=true"
        )

    def is_external(self, name: str) -> bool:
        """True when the operator named this server, so no embedded one is started for it."""
        return name in self._external


def secret_fields() -> list[str]:
    """The settings marked SECRET."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("secret")
    ]


@lru_cache
def get_settings() -> Settings:
    return Settings()
