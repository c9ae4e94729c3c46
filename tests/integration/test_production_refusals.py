"""In production, `commerce api` and `commerce worker` refuse to run simulated providers unless
COMMERCE_ALLOW_SANDBOX_PROVIDERS=true says so, each with one line naming the setting."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import ValidationError
from temporalio.testing import WorkflowEnvironment

from commerce.connections import migrate
from commerce.embedded import free_port
from commerce.payload_codec import new_key_spec
from commerce.settings import Settings, secret_fields
from commerce.stripe_keys import LOCAL_SECRET_KEY, api_base, secret_key
from tests.integration.test_production_settings import production_env
from tests.temporal_namespaces import fresh_namespace

pytestmark = pytest.mark.slow
STRIPE_KEYS = {
    "COMMERCE_PAYMENT_PROVIDER": "stripe",
    "COMMERCE_STRIPE_SECRET_KEY": f"sk_test_{secrets.token_hex(24)}",
    "COMMERCE_STRIPE_WEBHOOK_SECRET": f"whsec_{secrets.token_hex(24)}",
}


@pytest.fixture(scope="module")
async def namespace(temporal_env: WorkflowEnvironment) -> str:
    """A Temporal namespace of its own: a production worker started here polls the real task
    queue, and must not take the tasks of the sagas other tests left in the session's."""
    return await fresh_namespace(temporal_env.client, "production")


@pytest.fixture(scope="module")
async def database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own, migrated: the production worker's followers (projector,
    notifications, webhooks, reconciler) must not work through the suite's data."""
    name = f"production_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
        await migrate(Settings(database_url=url))
        yield url
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
def production(
    tmp_path: Path, database: str, temporal_env: WorkflowEnvironment, namespace: str
) -> dict[str, str]:
    """A production environment on the session's servers, with strong secrets and nothing
    about providers."""
    return {
        **production_env(tmp_path, COMMERCE_ALLOW_SANDBOX_PROVIDERS=None),
        "COMMERCE_DATABASE_URL": database,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": namespace,
        "COMMERCE_DATA_DIR": str(tmp_path),
        "COMMERCE_API_PORT": str(free_port()),
        "COMMERCE_WORKER_METRICS_PORT": "0",
        "COMMERCE_WORKER_SDK_METRICS_PORT": "0",
        "COMMERCE_LOG_JSON": "false",
    }


async def _run(role: str, env: dict[str, str], timeout_s: float = 60) -> tuple[int, list[str]]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", role, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(child.communicate(), timeout_s)
    except TimeoutError:
        child.kill()  # it did not refuse: leave nothing running behind the failure
        await child.wait()
        raise
    assert child.returncode is not None
    return child.returncode, err.decode().strip().splitlines()


@pytest.mark.parametrize("role", ["api", "worker"])
async def test_production_with_the_sandbox_refuses_to_start(
    role: str, production: dict[str, str]
) -> None:
    code, lines = await _run(role, production)

    assert code == 1
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"commerce {role}: production with simulated providers")
    assert "(payment, shipping, notifications)" in lines[0]
    assert "COMMERCE_ALLOW_SANDBOX_PROVIDERS=true" in lines[0]


@pytest.mark.parametrize("role", ["api", "worker"])
async def test_real_payments_alone_are_not_enough_while_shipping_is_simulated(
    role: str, production: dict[str, str]
) -> None:
    code, lines = await _run(role, {**production, **STRIPE_KEYS})

    assert code == 1 and len(lines) == 1, lines
    assert "(shipping, notifications)" in lines[0]
    assert "COMMERCE_ALLOW_SANDBOX_PROVIDERS=true" in lines[0]


async def test_production_with_stripe_needs_its_secret_key(production: dict[str, str]) -> None:
    env = {**production, **STRIPE_KEYS, "COMMERCE_ALLOW_SANDBOX_PROVIDERS": "true"}
    del env["COMMERCE_STRIPE_SECRET_KEY"]
    code, lines = await _run("worker", env)

    assert code == 2 and len(lines) == 1, lines
    assert "COMMERCE_STRIPE_SECRET_KEY" in lines[0]


@contextlib.asynccontextmanager
async def _started(role: str, env: dict[str, str]) -> AsyncIterator[asyncio.subprocess.Process]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", role, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        yield child
    finally:
        if child.returncode is None:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 20)
            except TimeoutError:
                child.kill()
                await child.wait()
                pytest.fail(f"commerce {role} did not stop within 20 s of SIGTERM")


async def test_the_api_starts_in_production_when_the_sandbox_is_allowed(
    production: dict[str, str],
) -> None:
    env = {**production, **STRIPE_KEYS, "COMMERCE_ALLOW_SANDBOX_PROVIDERS": "true"}
    async with _started("api", env) as child:
        url = f"http://127.0.0.1:{env['COMMERCE_API_PORT']}/health/live"
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(300):
                assert child.returncode is None, (await child.stderr.read()).decode()  # type: ignore[union-attr]
                try:
                    if (await client.get(url)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the API never answered /health/live")


async def test_the_worker_starts_in_production_when_the_sandbox_is_allowed(
    production: dict[str, str],
) -> None:
    env = {**production, "COMMERCE_ALLOW_SANDBOX_PROVIDERS": "true", "COMMERCE_LOG_LEVEL": "INFO"}
    async with _started("worker", env) as child:
        assert child.stderr is not None
        seen = []
        while not any("worker polling" in line for line in seen):
            line = await asyncio.wait_for(child.stderr.readline(), 60)
            assert line, f"the worker ended: {seen}"
            seen.append(line.decode())
        assert any("payments: sandbox" in line for line in seen)
        child.terminate()
        await asyncio.wait_for(child.wait(), 20)
    assert child.returncode == 0  # SIGTERM is a clean stop


def _settings(**values: Any) -> Settings:
    base: dict[str, Any] = {
        "jwt_secret": secrets.token_hex(32), "payload_keys": new_key_spec("k1"),
        "jwt_issuer": "https://auth.shop.test/", "jwt_audience": "commerce-api",
        "customer_key_secret": secrets.token_hex(32),
    }  # fmt: skip
    return Settings(**{**base, **values})


def test_production_talks_to_stripe_over_tls_with_both_secrets() -> None:
    live = {**{k.removeprefix("COMMERCE_").lower(): v for k, v in STRIPE_KEYS.items()}}
    assert _settings(environment="production", **live).sandbox_providers() == [
        "shipping", "notifications",
    ]  # fmt: skip
    _settings(environment="production", stripe_api_base="https://stripe-proxy.internal", **live)
    with pytest.raises(ValidationError, match="https:// COMMERCE_STRIPE_API_BASE"):
        _settings(environment="production", stripe_api_base="http://127.0.0.1:8420", **live)
    with pytest.raises(ValidationError, match="COMMERCE_STRIPE_WEBHOOK_SECRET"):
        _settings(environment="production", **{**live, "stripe_webhook_secret": None})


def test_stripe_secrets_are_marked_and_never_shown() -> None:
    settings = _settings(**{k.removeprefix("COMMERCE_").lower(): v for k, v in STRIPE_KEYS.items()})
    assert {"stripe_secret_key", "stripe_webhook_secret"} <= set(secret_fields())
    shown = repr(settings)
    assert all(v not in shown for v in STRIPE_KEYS.values() if v != "stripe")


def test_localstripe_is_embedded_only_when_nothing_names_stripe() -> None:
    assert _settings(payment_provider="stripe").embeds_stripe
    assert not _settings(payment_provider="stripe", stripe_secret_key="sk_test_x").embeds_stripe
    assert not _settings(
        payment_provider="stripe", stripe_api_base="http://127.0.0.1:1"
    ).embeds_stripe
    assert not _settings().embeds_stripe
    alone = _settings(payment_provider="stripe", embedded_stripe_port=58421)  # a lone worker
    assert (api_base(alone), secret_key(alone)) == ("http://127.0.0.1:58421", LOCAL_SECRET_KEY)
    live = _settings(payment_provider="stripe", stripe_secret_key="sk_test_x")
    assert (api_base(live), secret_key(live)) == (None, "sk_test_x")  # Stripe itself
