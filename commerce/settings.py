"""Every knob of the service, read once from the environment (the table in docs/configuration.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from commerce.payload_keys import key_spec_weakness, parse_keys
from commerce.secret_rules import SecretSetting

EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_REDIS_PORT = 56379
EMBEDDED_TEMPORAL_PORT = 7233
EMBEDDED_TEMPORAL_UI_PORT = 8233
EMBEDDED_STRIPE_PORT = 58420


# Production refuses to start without these (the JWT secret or JWKS URL is checked apart).
_REQUIRED_IN_PRODUCTION = ("payload_keys", "jwt_audience", "jwt_issuer", "customer_key_secret")


def _temporal(name: str) -> AliasChoices:
    return AliasChoices(f"TEMPORAL_{name}", f"COMMERCE_TEMPORAL_{name}")


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
    # Deadlines (seconds): a dead or hung server gives a fast error (503 in the API), never a hang.
    database_connect_timeout_s: float = Field(default=5.0, gt=0)
    database_command_timeout_s: float = Field(default=15.0, gt=0)  # every statement on a pool
    database_acquire_timeout_s: float = Field(default=5.0, gt=0)  # API: wait for a free connection
    redis_url: str = ""
    redis_pool_max: int = Field(default=50, ge=1)
    redis_connect_timeout_s: float = Field(default=2.0, gt=0)
    redis_timeout_s: float = Field(default=5.0, gt=0)  # a command's reply; a free pooled connection
    redis_health_check_interval_s: int = Field(default=30, ge=0)  # PING a connection idle this long
    temporal_address: str = Field(
        default="",
        validation_alias=AliasChoices("TEMPORAL_ADDRESS", "COMMERCE_TEMPORAL_ADDRESS"),
    )
    temporal_namespace: str = Field(
        default="default",
        validation_alias=AliasChoices("TEMPORAL_NAMESPACE", "COMMERCE_TEMPORAL_NAMESPACE"),
    )
    temporal_ui_url: str = ""
    # Temporal TLS and API key: the names the `temporal` CLI reads too. TLS is on when any is set.
    temporal_tls: bool = Field(default=False, validation_alias=_temporal("TLS"))
    temporal_tls_client_cert_path: Path | None = Field(
        default=None, validation_alias=_temporal("TLS_CLIENT_CERT_PATH")
    )
    temporal_tls_client_key_path: Path | None = Field(
        default=None, validation_alias=_temporal("TLS_CLIENT_KEY_PATH")
    )
    temporal_tls_server_ca_cert_path: Path | None = Field(
        default=None, validation_alias=_temporal("TLS_SERVER_CA_CERT_PATH")
    )
    temporal_tls_server_name: str | None = Field(
        default=None, validation_alias=_temporal("TLS_SERVER_NAME")
    )
    temporal_api_key: Annotated[str | None, SecretSetting()] = Field(
        default=None, validation_alias=_temporal("API_KEY")
    )
    temporal_rpc_timeout_s: float = Field(default=10.0, gt=0)  # each client call to Temporal

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8084, ge=1, le=65535)
    # Seconds an idle HTTP connection stays open for reuse. Longer than its clients keep one:
    # httpx 5 s, nginx's upstream keepalive_timeout and an AWS load balancer's idle timeout 60 s.
    # A server that hangs up first loses the request a client sends as it closes.
    api_keep_alive_s: int = Field(default=75, ge=1)
    # The API's Prometheus endpoint, off the public port (in development also at /metrics).
    api_metrics_port: int = Field(default=9466, ge=0, le=65535)  # 0 = none
    api_metrics_host: str = "127.0.0.1"
    public_docs: bool | None = None  # /docs and /openapi.json; unset = only in development
    # Request limits: bodies are counted as they stream, 413 past the limit.
    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    webhook_max_body_bytes: int = Field(default=256 * 1024, ge=1)  # signed provider webhooks
    # Writes (POST, PUT, PATCH, DELETE) per client, in the `limits` notation ("120/minute").
    rate_limit_per_customer: str = "120/minute"
    rate_limit_per_ip: str = "1200/minute"
    max_requests_in_flight: int = Field(default=256, ge=1)  # per API process; 503 past it
    worker_metrics_port: int = Field(default=9464, ge=0, le=65535)  # 0 = no metrics endpoint
    worker_metrics_host: str = "127.0.0.1"
    worker_max_cached_workflows: int = Field(default=250, ge=1)  # bounds the worker's memory
    # Orders one worker process keeps as of a version: a saga step reads only the events
    # appended since (eventstore/order_cache.py); 0 reads and replays the whole stream each time.
    # About 4 KiB each: the default covers the sagas a worker has in flight with room to spare.
    order_cache_size: int = Field(default=1_000, ge=0)
    worker_sdk_metrics_port: int = Field(default=9465, ge=0, le=65535)  # Temporal SDK's own

    # Tracing is off unless an OTLP endpoint is named; the exporter reads the other OTEL_* itself.
    otel_exporter_otlp_endpoint: str = Field(
        default="", validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_service_name: str = Field(default="", validation_alias=AliasChoices("OTEL_SERVICE_NAME"))

    # Secret settings are `SecretSetting`: production refuses weak or published values.
    jwt_secret: Annotated[str | None, SecretSetting()] = None
    # Temporal payload encryption: "key-id:base64-key,..." and which id new payloads use.
    # Unset in development: one key is generated and kept in the data dir.
    payload_keys: Annotated[str | None, SecretSetting(check=key_spec_weakness)] = None
    # HMAC key of the CustomerId search attribute (a keyed hash, not the customer id). Never
    # change it: sagas started before would no longer be found by their customer.
    customer_key_secret: Annotated[str | None, SecretSetting()] = None
    payload_active_key: str | None = None
    codec_port: int = Field(default=8089, ge=1, le=65535)
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_ttl_s: int = Field(default=3600, ge=1)

    cart_ttl_s: int = Field(default=7 * 24 * 3600, ge=1)
    # Per API process: carts whose last document is kept (a change to one costs one Redis round
    # trip), skus whose price is kept, and the longest a kept price may be served after the
    # catalog changed when notifications are lost (docs/checkout.md).
    cart_cache_size: int = Field(default=10_000, ge=0)
    catalog_cache_size: int = Field(default=10_000, ge=0)
    catalog_cache_max_stale_s: float = Field(default=1.0, gt=0, le=3600)

    saga_step_max_attempts: int = Field(default=10, ge=1)
    saga_step_initial_retry_ms: int = Field(default=1000, ge=1)
    saga_stall_timeout_s: int = Field(default=86400, ge=1)
    # Undoing that waits on a provider is tried this often before the order ends without it.
    saga_cleanup_attempts: int = Field(default=3, ge=1)
    # A payment awaiting the customer (3-D Secure) is cancelled with its order after this.
    payment_action_timeout_s: int = Field(default=1800, ge=1)
    # ...and re-checked at the gateway after this many seconds (doubling), should a webhook be lost.
    payment_recheck_s: int = Field(default=10, ge=1)
    # A placed order whose checkout could not start its saga has one within this (the reconciler).
    saga_reconcile_s: int = Field(default=30, ge=1)
    # A completed order not reported delivered by then is marked overdue (DeliveryOverdue).
    delivery_timeout_s: int = Field(default=14 * 86400, ge=1)
    # The worker's delivery sweep looks for deliveries past their deadline this often.
    delivery_sweep_s: float = Field(default=60, gt=0)
    # Returns: asked within this many days of delivery; closed without refund when the goods do
    # not arrive within the receive timeout of approval.
    return_window_days: int = Field(default=30, ge=0)
    return_receive_timeout_s: int = Field(default=30 * 86400, ge=1)
    # Some lines out of stock: an amended order not accepted by then is cancelled.
    amendment_timeout_s: int = Field(default=86400, ge=1)
    # HMAC-SHA256 key of the carrier webhook. Unset: generated in the data dir in development;
    # in production the webhook answers 503 until it is set.
    carrier_webhook_secret: Annotated[str | None, SecretSetting()] = None

    # Payments: `sandbox` (simulated, see docs/sandbox.md) or `stripe`. Shipping and notifications
    # are sandbox-only, so production also needs `allow_sandbox_providers` until they are real.
    payment_provider: Literal["sandbox", "stripe"] = "sandbox"
    allow_sandbox_providers: bool = False
    # "" = Stripe itself, or, under `commerce infra`/`dev` without a secret key, an embedded
    # localstripe on `embedded_stripe_port`.
    stripe_api_base: str = ""
    # SecretStr: never shown in a log; SecretSetting: strong (or no start) in production.
    stripe_secret_key: Annotated[SecretStr | None, SecretSetting()] = None
    stripe_webhook_secret: Annotated[SecretStr | None, SecretSetting()] = None
    # Deadline of one Stripe call (seconds); a saga step has 10 s for all of its calls.
    stripe_timeout_s: float = Field(default=5.0, gt=0, le=120)
    embedded_stripe_port: int = Field(default=EMBEDDED_STRIPE_PORT, ge=1, le=65535)
    # Outbound webhooks (signing secrets are generated per subscription and sealed with the
    # payload keys: no setting holds one). A delivery is retried for this long, then failed.
    webhook_retry_hours: float = Field(default=24, gt=0)
    webhook_retry_initial_s: float = Field(default=5, gt=0)  # first retry delay, doubling
    webhook_connect_timeout_s: float = Field(default=5, gt=0)
    webhook_timeout_s: float = Field(default=10, gt=0)  # whole answer, after connecting
    # Loopback and private endpoints (development, internal receivers); link-local and cloud
    # metadata addresses are refused whatever this says.
    webhook_allow_private: bool = False
    # Base of the links in customer notifications (accept an amended order, pay, retry a cart).
    storefront_url: str = "http://127.0.0.1:5173"

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

    @field_validator("rate_limit_per_customer", "rate_limit_per_ip")
    @classmethod
    def _rate_limit(cls, spec: str) -> str:
        from limits import parse_many

        try:
            parse_many(spec)
        except ValueError as error:
            raise ValueError('must be like "120/minute" or "10/second;100/minute"') from error
        return spec

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
        if self.public_docs is None:
            self.public_docs = self.environment == "development"
        return self

    @field_validator("payload_keys")
    @classmethod
    def _payload_keys(cls, spec: str | None) -> str | None:
        if spec is not None:
            parse_keys(spec)  # a malformed key fails at start, naming this setting
        return spec

    @field_validator(
        "temporal_tls_client_cert_path",
        "temporal_tls_client_key_path",
        "temporal_tls_server_ca_cert_path",
    )
    @classmethod
    def _readable_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"{path} is not a readable file")
        return path

    @model_validator(mode="after")
    def _one_way_to_check_tokens(self) -> Settings:
        if self.jwt_secret and self.jwt_jwks_url:
            raise ValueError(
                "COMMERCE_JWT_SECRET: leave it unset with COMMERCE_JWT_JWKS_URL"
                " (tokens are then checked against the key set alone)"
            )
        if bool(self.temporal_tls_client_cert_path) != bool(self.temporal_tls_client_key_path):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together"
            )
        return self

    @model_validator(mode="after")
    def _production_secrets(self) -> Settings:
        """Production refuses to start without its secrets or with a weak one, in one line
        naming each setting; the value itself is never repeated."""
        if self.environment != "production":
            return self
        problems = []
        if not (self.jwt_secret or self.jwt_jwks_url):
            problems.append("COMMERCE_JWT_SECRET or COMMERCE_JWT_JWKS_URL: required in production")
        for name in _REQUIRED_IN_PRODUCTION:
            if not getattr(self, name):
                problems.append(f"{self.env_name(name)}: required in production")
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            for rule in (m for m in field.metadata if isinstance(m, SecretSetting)):
                reason = rule.weakness(value) if value else None
                if reason:
                    problems.append(f"{self.env_name(name)}: {reason}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def env_name(cls, field_name: str) -> str:
        """The environment variable a field is read from (its first alias, else COMMERCE_*)."""
        alias = cls.model_fields[field_name].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"COMMERCE_{field_name.upper()}"

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
    """The settings that hold a secret (marked SecretSetting): one validator checks them all."""
    return [
        name
        for name, field in Settings.model_fields.items()
        if any(isinstance(m, SecretSetting) for m in field.metadata)
    ]


@lru_cache
def get_settings() -> Settings:
    return Settings()
