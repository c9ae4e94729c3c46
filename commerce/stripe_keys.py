"""Where the Stripe gateway and the webhook find Stripe: the API base, the keys, the client."""

from __future__ import annotations

import secrets

import stripe

from commerce.kept_secrets import kept_secret
from commerce.settings import Settings

# localstripe accepts any key that starts with `sk_`; Stripe itself never sees this one.
LOCAL_SECRET_KEY = "sk_test_localstripe"
WEBHOOK_PATH = "/api/v1/payments/stripe/webhook"


def api_base(settings: Settings) -> str | None:
    """The Stripe-API server to call: the configured one; without one or a secret key, the
    embedded localstripe's (`commerce infra`/`dev` start it, as they start PostgreSQL when no
    database is named); else None: Stripe itself."""
    if settings.stripe_api_base:
        return settings.stripe_api_base
    if settings.embeds_stripe:
        return f"http://127.0.0.1:{settings.embedded_stripe_port}"
    return None


def secret_key(settings: Settings) -> str:
    """The API key. Without one, Stripe is never called (the API base is then a configured or
    embedded server, see `api_base`), so a placeholder serves."""
    if settings.stripe_secret_key is not None:
        return settings.stripe_secret_key.get_secret_value()
    return LOCAL_SECRET_KEY


def webhook_secret(settings: Settings) -> str | None:
    """The webhook signing secret: the configured one, in development one kept in the data dir
    (which `commerce infra`/`dev` register with localstripe), in production none (the webhook
    then answers 503)."""
    if settings.stripe_webhook_secret is not None:
        return settings.stripe_webhook_secret.get_secret_value()
    if settings.environment != "development":
        return None
    return kept_secret(
        settings.data_dir, "stripe-webhook-secret", lambda: "whsec_" + secrets.token_hex(24)
    )


def stripe_client(
    settings: Settings, http_client: stripe.HTTPXClient | None = None, retries: int = 0
) -> stripe.StripeClient:
    """The official SDK's client on its httpx-based async HTTP client, with the call deadline
    as its timeout (`http_client`: one the caller closes; by default one for the client's
    life). By default it retries nothing itself (Temporal retries the saga's steps); a reader
    outside Temporal (reconciliation) lets the SDK retry `retries` times."""
    base = api_base(settings)
    return stripe.StripeClient(
        secret_key(settings),
        base_addresses={"api": base} if base else None,
        http_client=http_client or stripe.HTTPXClient(timeout=settings.stripe_timeout_s),
        max_network_retries=retries,
    )
