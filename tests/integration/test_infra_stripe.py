"""`commerce infra` with COMMERCE_PAYMENT_PROVIDER=stripe: localstripe started, its address
printed, its webhook signed to our endpoint, its PaymentIntents kept across a restart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import stripe
import uvicorn
from temporalio.testing import WorkflowEnvironment

from activities.recording import idempotency_key
from commerce.embedded import free_port
from commerce.settings import Settings
from commerce.stripe_keys import WEBHOOK_PATH
from tests.integration.stripe_support import VISA, gateway, on_localstripe, payment_intent

pytestmark = pytest.mark.slow


@pytest.fixture
def environment(
    tmp_path: Path, postgres_url: str, redis_url: str, temporal_env: WorkflowEnvironment
) -> dict[str, str]:
    """Stripe chosen, nothing named for it; the other servers are the session's (not started)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    return {
        **env,
        "COMMERCE_PAYMENT_PROVIDER": "stripe",
        "COMMERCE_DATA_DIR": str(tmp_path / "data"),
        "COMMERCE_DATABASE_URL": postgres_url,
        "COMMERCE_REDIS_URL": redis_url,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "COMMERCE_EMBEDDED_STRIPE_PORT": str(free_port()),
        "COMMERCE_API_PORT": str(free_port()),
    }


@contextlib.asynccontextmanager
async def _infra(env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "infra",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines: dict[str, str] = {}
        while "COMMERCE_STRIPE_API_BASE" not in lines:
            line = (await asyncio.wait_for(process.stdout.readline(), 60)).decode().strip()
            assert line, "commerce infra ended before printing COMMERCE_STRIPE_API_BASE"
            if "=" in line and not line.startswith("#"):
                name, value = line.split("=", 1)
                lines[name] = value
        yield lines
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0


@contextlib.asynccontextmanager
async def _receiver(port: int) -> AsyncIterator[list[tuple[str, dict[str, str], bytes]]]:
    """A real HTTP server where the API would listen, keeping every request it gets."""
    received: list[tuple[str, dict[str, str], bytes]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        received.append((scope["path"], headers, body))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield received
    finally:
        server.should_exit = True
        await serving


async def test_infra_starts_localstripe_signs_its_webhook_to_us_and_keeps_its_data(
    environment: dict[str, str], settings: Settings, pool: asyncpg.Pool
) -> None:
    order_id = str(uuid.uuid4())
    async with _receiver(int(environment["COMMERCE_API_PORT"])) as received:
        async with _infra(environment) as printed:
            api_base = printed["COMMERCE_STRIPE_API_BASE"]
            assert api_base == f"http://127.0.0.1:{environment['COMMERCE_EMBEDDED_STRIPE_PORT']}"
            payments = gateway(on_localstripe(settings, api_base), pool)
            intent_id = await payments.authorize(
                idempotency_key(order_id, "authorize"), order_id, 1200, "EUR", VISA
            )
            await payments.capture(idempotency_key(order_id, "capture"), order_id, intent_id, 1200)
            for _ in range(300):
                if received:
                    break
                await asyncio.sleep(0.1)

        secret = (Path(environment["COMMERCE_DATA_DIR"]) / "stripe-webhook-secret").read_text()
        [(path, headers, body)] = received
        assert path == WEBHOOK_PATH
        stripe.WebhookSignature.verify_header(
            body.decode(), headers["stripe-signature"], secret.strip(), 300
        )
        assert b"payment_intent.succeeded" in body and intent_id.encode() in body

    async with _infra(environment) as printed:  # started again on the same data dir
        kept = await payment_intent(printed["COMMERCE_STRIPE_API_BASE"], intent_id)
        assert (kept["status"], kept["amount"]) == ("succeeded", 1200)
