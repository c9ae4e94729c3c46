"""`commerce dev` (= `make run`): embedded infra, schema, demo catalog, one worker and the API."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from commerce.connections import create_pool, migrate
from commerce.embedded import EmbeddedServer, port_answers
from commerce.infra import address_lines, running_infrastructure, stopped_by_signals, supervise
from commerce.payload_codec import payload_key_spec
from commerce.redaction import redacted
from commerce.settings import Settings
from commerce.stripe_keys import webhook_secret
from commerce.tokens import signing_secret


@dataclass
class CommerceProcess(EmbeddedServer):
    """A `commerce <role>` child process; ready when its port answers (or at once, without one)."""

    role: str = "api"
    env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "commerce.cli", self.role]

    async def answers(self) -> bool:
        return await port_answers(self.port) if self.port else True

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}


def child_environment(settings: Settings) -> dict[str, str]:
    """Addresses for the children, so they reach exactly the servers this process started."""
    env = dict(line.split("=", 1) for line in address_lines(settings))
    env["COMMERCE_DATA_DIR"] = str(settings.data_dir.resolve())
    # Decided here, once, so children starting together never race to make different keys.
    env["COMMERCE_PAYLOAD_KEYS"] = payload_key_spec(settings)
    if jwt_secret := signing_secret(settings):  # none in JWKS mode
        env["COMMERCE_JWT_SECRET"] = jwt_secret
    if settings.payment_provider == "stripe" and (secret := webhook_secret(settings)):
        env["COMMERCE_STRIPE_WEBHOOK_SECRET"] = secret  # the one localstripe signs with
    return env


async def run_dev(settings: Settings) -> int:
    crashed, logs = None, settings.data_dir.resolve() / "logs"
    async with stopped_by_signals(), running_infrastructure(settings) as servers:
        applied = await migrate(settings)
        print(f"# schema up to date ({len(applied)} migration(s) applied now)", flush=True)
        await load_demo_catalog_once(settings)
        env = child_environment(settings)
        worker = CommerceProcess("worker", logs, 0, role="worker", env=env)
        api = CommerceProcess("api", logs, settings.api_port, role="api", env=env)
        codec = CommerceProcess("codec", logs, settings.codec_port, role="codec-server", env=env)
        children: list[EmbeddedServer] = [worker, api, codec]
        try:
            for child in children:
                await child.start()
            for line in address_lines(settings):
                print(redacted(line), flush=True)
            print(
                f"# API: http://{settings.api_host}:{settings.api_port}/docs"
                f"  Temporal UI: {settings.temporal_ui_url}"
                f"  codec: http://{settings.api_host}:{settings.codec_port}"
                f"  logs: {logs}  (Ctrl-C stops everything)",
                flush=True,
            )
            crashed = await supervise([*servers, *children])
        finally:
            for child in reversed(children):
                await child.stop()
    if crashed:
        print(f"error: {crashed} keeps exiting; see its log under {logs}", file=sys.stderr)
        return 1
    return 0


async def load_demo_catalog_once(settings: Settings) -> None:
    """Insert the demo products and their stock on first start; existing rows are left alone."""
    from eventstore.catalog import load_demo_catalog

    pool = await create_pool(settings)
    try:
        new = await load_demo_catalog(pool)
    finally:
        await pool.close()
    if new:
        print(f"# demo catalog loaded ({new} product(s))", flush=True)
