"""Production as an operator starts it: `commerce api`, `worker`, `migrate` and `codec-server`
processes refuse weak secrets in one line naming the setting, and the API runs with nowhere to
write (a read-only root filesystem)."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from commerce.embedded import free_port
from commerce.payload_codec import new_key_spec
from commerce.settings import Settings

PLACEHOLDER = "REPLACE-ME-with-a-long-random-string"  # the old deploy/k8s/secret.yaml's
ZERO_KEY = "replace-me:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="  # and its payload key
PUBLISHED_KEY = "k1:Xq3vJ0cP7mZ2tL9sR4wB8nE1yK6uH5aF0gD3jV2iO7Q="  # random, but shown here
ISSUER, AUDIENCE = "https://auth.shop.test/", "commerce-api"


def production_env(data_dir: Path, **overrides: str | None) -> dict[str, str]:
    """A complete production environment with strong secrets, then `overrides` (None = unset)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMMERCE_", "TEMPORAL_"))}
    env.update({
        "COMMERCE_ENVIRONMENT": "production",
        "COMMERCE_DATA_DIR": str(data_dir),
        "COMMERCE_JWT_SECRET": secrets.token_hex(32),
        "COMMERCE_JWT_ISSUER": ISSUER,
        "COMMERCE_JWT_AUDIENCE": AUDIENCE,
        "COMMERCE_PAYLOAD_KEYS": new_key_spec("k1"),
        "COMMERCE_CUSTOMER_KEY_SECRET": secrets.token_hex(32),
        "COMMERCE_DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/commerce",
        "COMMERCE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "COMMERCE_LOG_JSON": "false",
        "COMMERCE_ALLOW_SANDBOX_PROVIDERS": "true",  # shipping has no real adapter yet
    })  # fmt: skip
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, err.decode().strip().splitlines()


@pytest.mark.parametrize(
    ("command", "setting", "value"),
    [
        ("api", "COMMERCE_JWT_SECRET", "x"),
        ("worker", "COMMERCE_JWT_SECRET", PLACEHOLDER),
        ("api", "COMMERCE_JWT_SECRET", "dev-only-secret-change-me-0123456789abcdef"),
        ("api", "COMMERCE_PAYLOAD_KEYS", ZERO_KEY),
        ("worker", "COMMERCE_PAYLOAD_KEYS", PUBLISHED_KEY),
        ("api", "COMMERCE_CARRIER_WEBHOOK_SECRET", "x" * 40),
        ("worker", "COMMERCE_CUSTOMER_KEY_SECRET", "test-secret-for-the-suite-only-0123456789"),
        ("api", "TEMPORAL_API_KEY", "short"),
        ("migrate", "COMMERCE_JWT_SECRET", "ab" * 20),
        ("codec-server", "COMMERCE_JWT_SECRET", base64.b64encode(b"\0" * 32).decode()),
        ("api", "COMMERCE_JWT_AUDIENCE", None),
        ("worker", "COMMERCE_JWT_ISSUER", None),
        ("api", "COMMERCE_PAYLOAD_KEYS", None),
        ("worker", "COMMERCE_CUSTOMER_KEY_SECRET", None),
    ],
)
async def test_production_refuses_a_weak_or_missing_secret_in_one_line_naming_it(
    tmp_path: Path, command: str, setting: str, value: str | None
) -> None:
    code, lines = await run_cli(production_env(tmp_path, **{setting: value}), command)
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert setting in lines[0]
    assert value is None or len(value) < 8 or value not in lines[0]  # a secret is never echoed
    assert not tmp_path.joinpath("jwt-secret").exists()


async def test_production_with_a_jwks_url_and_a_secret_refuses_to_guess(tmp_path: Path) -> None:
    env = production_env(tmp_path, COMMERCE_JWT_JWKS_URL="https://auth.shop.test/jwks.json")
    code, lines = await run_cli(env, "api")
    assert code == 2 and len(lines) == 1 and "COMMERCE_JWT_SECRET" in lines[0]


async def test_production_api_starts_and_authenticates_with_an_unwritable_data_dir(
    tmp_path: Path, settings: Settings
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file: nothing can be created below it\n")
    port = free_port()
    env = production_env(
        blocker / "data",
        COMMERCE_DATABASE_URL=settings.database_url,
        COMMERCE_REDIS_URL=settings.redis_url,
        TEMPORAL_ADDRESS=settings.temporal_address,
        COMMERCE_API_PORT=str(port),
    )
    api = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "api",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    claims = {"sub": "ada", "roles": ["customer"], "iss": ISSUER, "aud": AUDIENCE}
    token = jwt.encode(
        {**claims, "exp": int(time.time()) + 600}, env["COMMERCE_JWT_SECRET"], algorithm="HS256"
    )
    no_audience = jwt.encode(
        {"sub": "ada", "roles": ["customer"], "iss": ISSUER, "exp": int(time.time()) + 600},
        env["COMMERCE_JWT_SECRET"],
        algorithm="HS256",
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(300):
                try:
                    if (await client.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert api.returncode is None, (await api.stderr.read()).decode()  # type: ignore[union-attr]
                await asyncio.sleep(0.1)
            ready = await client.get("/health/ready")
            products = await client.get(
                "/api/v1/products", headers={"Authorization": f"Bearer {token}"}
            )
            refused = await client.get(
                "/api/v1/products", headers={"Authorization": f"Bearer {no_audience}"}
            )
    finally:
        api.terminate()
        await api.wait()
    assert ready.status_code == 200, ready.text
    assert products.status_code == 200, products.text
    assert refused.status_code == 401
    assert blocker.read_text().startswith("a file")
