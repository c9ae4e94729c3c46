"""`commerce infra`: start the embedded servers the settings do not point elsewhere, supervise them."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from commerce.embedded import EmbeddedPostgres, EmbeddedRedis, EmbeddedServer, EmbeddedTemporal
from commerce.embedded_stripe import EmbeddedStripe
from commerce.redaction import redacted
from commerce.settings import Settings
from commerce.stripe_keys import WEBHOOK_PATH, api_base, webhook_secret


def embedded_servers(
    settings: Settings, statement_statistics: bool = False
) -> list[EmbeddedServer]:
    """One embedded server per address setting the operator left at its default
    (`statement_statistics`: PostgreSQL counts statements, see EmbeddedPostgres)."""
    data = settings.data_dir.resolve()
    servers: list[EmbeddedServer] = []
    if not settings.is_external("database_url"):
        servers.append(EmbeddedPostgres(
            "postgres", data / "postgres", settings.embedded_postgres_port,
            statement_statistics=statement_statistics,
        ))  # fmt: skip
    if not settings.is_external("redis_url"):
        servers.append(EmbeddedRedis("redis", data / "redis", settings.embedded_redis_port))
    if not settings.is_external("temporal_address"):
        servers.append(EmbeddedTemporal(
            "temporal", data / "temporal", settings.embedded_temporal_port,
            ui_port=settings.temporal_ui_port,
            codec_endpoint=f"http://{settings.api_host}:{settings.codec_port}",
        ))  # fmt: skip
    if settings.embeds_stripe:
        servers.append(EmbeddedStripe(
            "localstripe", data / "localstripe", settings.embedded_stripe_port,
            webhook_url=webhook_url(settings), webhook_secret=webhook_secret(settings),
        ))  # fmt: skip
    return servers


def webhook_url(settings: Settings) -> str:
    """Our Stripe webhook as the embedded localstripe reaches it (the API on this machine)."""
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::", "") else settings.api_host
    return f"http://{host}:{settings.api_port}{WEBHOOK_PATH}"


def address_lines(settings: Settings) -> list[str]:
    lines = [
        f"COMMERCE_DATABASE_URL={settings.database_url}",
        f"COMMERCE_REDIS_URL={settings.redis_url}",
        f"TEMPORAL_ADDRESS={settings.temporal_address}",
    ]
    stripe_base = api_base(settings) if settings.payment_provider == "stripe" else None
    if stripe_base:
        lines.append(f"COMMERCE_STRIPE_API_BASE={stripe_base}")
    return lines


@contextlib.asynccontextmanager
async def running_infrastructure(
    settings: Settings, throwaway: bool = False, statement_statistics: bool = False
) -> AsyncIterator[list[EmbeddedServer]]:
    """Start the embedded servers together; stop them all (reverse order) however the block ends.
    `throwaway` (the bench): the PostgreSQL cluster is deleted then too, wherever it lives (as
    root, outside the data dir). `statement_statistics`: see `embedded_servers`.
    """
    servers = embedded_servers(settings, statement_statistics)
    try:
        await asyncio.gather(*(server.start() for server in servers))
        yield servers
    finally:
        for server in reversed(servers):
            await server.stop()
        for server in servers:
            if throwaway and isinstance(server, EmbeddedPostgres):
                server.remove_cluster()


MAX_RESTARTS = 5
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Whether SIGINT or SIGTERM asked the process to stop (`signal`: which, None if neither)."""

    signal: int | None = None


@contextlib.asynccontextmanager
async def stopped_by_signals() -> AsyncIterator[StopRequest]:
    """From entering the block, SIGINT (Ctrl-C) and SIGTERM cancel the task inside it, whatever it
    is doing (starting servers, supervising them): its `finally` blocks stop what it started, and
    the block then ends normally with the request's `signal` set. Honoured even where SIGINT was
    ignored at launch (a background job): an operator who sends it means it. A second signal does
    not interrupt the stopping. For the processes that start servers: infra, dev, bench.
    """
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    assert task is not None
    request = StopRequest()

    def stop(received: int) -> None:
        if request.signal is None:
            request.signal = received
            task.cancel()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield request
    except asyncio.CancelledError:
        if request.signal is None:
            raise  # cancelled by something else
        task.uncancel()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


async def supervise(servers: list[EmbeddedServer]) -> str:
    """Watch the servers until cancelled (`stopped_by_signals`). A child that dies is started
    again on the same data, as a supervisor does; one that keeps dying (MAX_RESTARTS) ends the
    run: returns its name."""
    restarts = dict.fromkeys((s.name for s in servers), 0)
    while True:
        for server in servers:
            if server.process is None or server.process.returncode is None:
                continue
            code = server.process.returncode
            restarts[server.name] += 1
            if restarts[server.name] > MAX_RESTARTS:
                return server.name
            print(f"# {server.name} exited ({code}); starting it again", flush=True)
            server.process = None
            try:
                await server.start()
            except (OSError, RuntimeError, TimeoutError) as error:
                print(f"# {server.name} did not come back: {error}", flush=True)
                return server.name
        await asyncio.sleep(0.5)


async def run_infra(settings: Settings) -> int:
    crashed = None
    async with stopped_by_signals(), running_infrastructure(settings) as servers:
        for line in address_lines(settings):
            print(redacted(line), flush=True)
        print(f"# Temporal UI: {settings.temporal_ui_url}  (Ctrl-C stops everything)", flush=True)
        crashed = await supervise(servers)
    if crashed:
        print(f"error: embedded {crashed} keeps exiting; see its log", flush=True)
        return 1
    return 0
