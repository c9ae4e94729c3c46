"""A real `commerce api` process (uvicorn, httptools) fed 64 MiB bodies: it refuses each one
without holding it (413 past the size limit; 401 for an anonymous write whose size it cannot know
before reading, as the token is checked first), so its memory stays where it was (the pod limit
is 512 Mi). And it keeps an idle connection open longer than a client keeps it for reuse."""

from __future__ import annotations

import asyncio
import http.client
import os
import select
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from commerce.embedded import free_port
from commerce.settings import Settings
from commerce.tokens import mint_token
from tests.conftest import TEST_JWT_SECRET, TEST_PAYLOAD_KEYS

HOSTILE_BYTES = 64 * 1024 * 1024
CHUNK = 64 * 1024
MAX_RSS_GROWTH = 20 * 1024 * 1024
CLIENT_IDLE_S = httpx.Limits().keepalive_expiry  # httpx reuses an idle connection this long: 5 s


def _peak_rss(pid: int) -> int:
    """The process's high-water mark of resident memory (VmHWM): a body held even for a moment
    shows here, where the current RSS would have shrunk back."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture
async def api_process(
    postgres_url: str, redis_url: str, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[int, int]]:
    """`commerce api` on a free port against the session's servers: (pid, port)."""
    port = free_port()
    env = {
        **os.environ,
        "COMMERCE_DATABASE_URL": postgres_url,
        "COMMERCE_REDIS_URL": redis_url,
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "COMMERCE_JWT_SECRET": TEST_JWT_SECRET,
        "COMMERCE_PAYLOAD_KEYS": TEST_PAYLOAD_KEYS,
        "COMMERCE_DATA_DIR": str(tmp_path),
        "COMMERCE_API_PORT": str(port),
        "COMMERCE_API_METRICS_PORT": "0",
    }
    log = (tmp_path / "api.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "api", env=env, stdout=log, stderr=log
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(200):
                try:
                    if (await client.get("/health/live")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.returncode is None, (tmp_path / "api.log").read_text()
                await asyncio.sleep(0.1)
            await client.get("/openapi.json")  # warm: build the schema, import lazily loaded code
            await client.post("/api/v1/cart/", json={})
        yield process.pid, port
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


def _hostile_post(port: int, declare_length: bool, token: str | None) -> tuple[bytes, int]:
    """POST 64 MiB of valid JSON to /api/v1/cart/, chunked (no Content-Length) or declaring its
    length, stopping as soon as the server answers (as a client reading while it sends does).
    Returns the status line and the body bytes sent."""
    framing = f"Content-Length: {HOSTILE_BYTES}" if declare_length else "Transfer-Encoding: chunked"
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    head, tail = b'{"currency": "USD", "pad": "', b'"}'
    pad = HOSTILE_BYTES - len(head) - len(tail)
    parts = [head, *(b"a" * min(CHUNK, pad - start) for start in range(0, pad, CHUNK)), tail]
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(
            f"POST /api/v1/cart/ HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            f"{auth}{framing}\r\n\r\n".encode()
        )
        for part in parts:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there
            try:
                sock.sendall(part if declare_length else b"%x\r\n%s\r\n" % (len(part), part))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(part)
        else:
            if not declare_length:
                sock.sendall(b"0\r\n\r\n")
        return sock.recv(64).split(b"\r\n")[0], sent


async def test_64_mib_bodies_are_refused_unread_and_the_process_does_not_grow(
    api_process: tuple[int, int], settings: Settings
) -> None:
    pid, port = api_process
    token = mint_token(settings, "big-spender", ["customer"])
    before = _peak_rss(pid)
    for declare_length, bearer, expected in [
        (True, None, b"413"),  # anonymous, Content-Length: refused before reading
        (False, None, b"401"),  # anonymous, chunked: the token is checked before the body
        (False, token, b"413"),  # a customer, chunked: counted, refused past 64 KiB
        (True, token, b"413"),
    ]:
        status_line, sent = await asyncio.to_thread(_hostile_post, port, declare_length, bearer)
        assert status_line.startswith(b"HTTP/1.1 " + expected), (declare_length, status_line)
        assert sent < HOSTILE_BYTES  # the server hung up long before the end
    grown = _peak_rss(pid) - before
    assert grown < MAX_RSS_GROWTH, f"peak RSS grew by {grown / 2**20:.1f} MiB"
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        assert (await client.get("/health/live")).status_code == 200


def _requests_apart(port: int, idle_s: float) -> list[int | None]:
    """GET /health/live twice on one connection (http.client keeps it), `idle_s` seconds apart:
    each status, or None where the server had closed the connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    statuses: list[int | None] = []
    try:
        for pause in (0.0, idle_s):
            time.sleep(pause)
            try:
                connection.request("GET", "/health/live")
                response = connection.getresponse()
                response.read()
                statuses.append(response.status)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                statuses.append(None)
    finally:
        connection.close()
    return statuses


async def test_an_idle_connection_outlives_the_clients_reuse_of_it(
    api_process: tuple[int, int],
) -> None:
    """A client reuses an idle connection until its own expiry (httpx's is 5 s, as is uvicorn's
    default keep-alive); a server that hangs up first loses the request sent as it closes, with
    no answer to tell whether it was done (`commerce bench` lost an order so at concurrency 200)."""
    _, port = api_process
    statuses = await asyncio.to_thread(_requests_apart, port, CLIENT_IDLE_S + 1)
    assert statuses == [200, 200]
