"""Nothing leaks: URL passwords stay out of errors and logs, a 500 is logged once under the request
id its problem document carries, production serves neither /metrics nor the docs on the public
port, and text shown to people refuses control and bidirectional control characters."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from commerce.connections import Unreachable, create_pool, create_redis
from commerce.embedded import free_port
from commerce.logs import context_handler
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct, make_caller
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status

PASSWORD = "s3cret-Pa55"


def _unreachable(scheme: str) -> str:
    return f"{scheme}://shop:{PASSWORD}@127.0.0.1:{free_port()}/commerce"


async def test_an_unreachable_url_with_a_password_is_named_without_it(settings: Settings) -> None:
    broken = settings.model_copy(
        update={
            "database_url": _unreachable("postgresql"),
            "redis_url": _unreachable("redis"),
            "database_connect_timeout_s": 2.0,
        }
    )
    for connect, setting in ((create_pool, "COMMERCE_DATABASE_URL"), (create_redis, "REDIS")):
        with pytest.raises(Unreachable) as raised:
            await connect(broken)
        assert setting in str(raised.value) and "127.0.0.1" in str(raised.value)
        assert PASSWORD not in str(raised.value)


async def test_commerce_migrate_against_an_unreachable_url_prints_no_password(
    tmp_path: Path,
) -> None:
    env = {
        **os.environ,
        "COMMERCE_DATABASE_URL": _unreachable("postgresql"),
        "COMMERCE_DATA_DIR": str(tmp_path),
        "COMMERCE_LOG_JSON": "true",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "migrate", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1
    assert b"COMMERCE_DATABASE_URL=postgresql://shop:***@127.0.0.1" in err
    assert PASSWORD.encode() not in out + err


@pytest.fixture
def captured_log() -> AsyncIterator[io.StringIO]:
    """Every log record of the process, as the JSON lines `commerce api` writes."""
    stream = io.StringIO()
    handler = context_handler(stream, as_json=True)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream  # type: ignore[misc]
    finally:
        root.removeHandler(handler)


async def test_a_503_for_an_unreachable_redis_logs_no_password(
    settings: Settings, captured_log: io.StringIO
) -> None:
    app = create_app(settings.model_copy(update={"redis_url": _unreachable("redis")}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post(
                "/api/v1/cart/", json={}, headers=make_caller(settings).headers
            )
    assert answer.status_code == 503 and PASSWORD not in answer.text
    assert "Redis unavailable" in captured_log.getvalue()
    assert PASSWORD not in captured_log.getvalue()


@pytest.fixture
async def served_with_a_failing_route(settings: Settings) -> AsyncIterator[str]:
    """The app under uvicorn (whose own error logging is what a 500 must not double), with one
    extra route that fails as an unforeseen bug would."""
    app = create_app(settings)

    @app.get("/api/v1/boom")
    async def boom() -> None:
        raise RuntimeError(f"boom-{id(app)}")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def test_a_500_is_logged_once_under_the_request_id_its_problem_carries(
    served_with_a_failing_route: str, captured_log: io.StringIO, settings: Settings
) -> None:
    async with httpx.AsyncClient(base_url=served_with_a_failing_route) as client:
        answer = await client.get("/api/v1/boom")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    request_id = answer.json()["request_id"]
    assert request_id == answer.headers["X-Request-Id"] and len(request_id) >= 16
    assert "boom" not in answer.text  # the client learns the id, not the bug
    await asyncio.sleep(0.2)  # let the server's own logging, if any, happen
    lines = [json.loads(line) for line in captured_log.getvalue().splitlines()]
    about_it = [line for line in lines if "boom-" in json.dumps(line)]
    assert len(about_it) == 1, about_it
    assert about_it[0]["request_id"] == request_id and about_it[0]["level"] == "error"
    assert "RuntimeError" in about_it[0]["exception"]


async def test_every_answer_carries_a_request_id(http: httpx.AsyncClient) -> None:
    first, second = await http.get("/health/live"), await http.get("/api/v1/products")
    assert second.status_code == 401
    assert second.json()["request_id"] == second.headers["X-Request-Id"]
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]


async def test_production_keeps_metrics_and_docs_off_the_public_port(settings: Settings) -> None:
    production = settings.model_copy(
        update={"environment": "production", "public_docs": False, "allow_sandbox_providers": True}
    )
    app: FastAPI = create_app(production)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
                assert (await client.get(path)).status_code == 404, path
            assert (await client.get("/health/live")).status_code == 200


async def test_the_api_metrics_port_serves_the_metrics(settings: Settings, tmp_path: Path) -> None:
    from api.metrics import serve_metrics

    port = free_port()
    serve_metrics(settings.model_copy(update={"api_metrics_port": port}))
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert answer.status_code == 200 and "commerce_http_requests_total" in answer.text


async def test_development_documents_the_api_by_default(http: httpx.AsyncClient) -> None:
    assert Settings(jwt_secret="x" * 40).public_docs is True
    assert (await http.get("/docs")).status_code == 200


HOSTILE_TEXT = [
    "Ada\u202eevil",  # right-to-left override
    "Ada\u2066x\u2069",  # isolates
    "Ada\x07",  # bell
    "Ada\x1b[31m",  # an ANSI escape
    "Ada\nShopper",  # a line break in one line of an address
    "Ada\u2028Shopper",  # a line separator
    "Ada\x85Shopper",  # next line (C1)
]


@pytest.mark.parametrize("text", HOSTILE_TEXT)
@pytest.mark.parametrize("field", ["name", "line1", "city", "postal_code"])
async def test_address_fields_refuse_control_and_bidi_characters(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, field: str, text: str
) -> None:
    cart_id = await filled_cart(http, customer, (str((await create_product())["sku"]), 1))
    answer = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id, **{field: text}), headers=customer.headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == f"body.shipping_address.{field}"
    cart = await http.get(f"/api/v1/cart/{cart_id}", headers=customer.headers)
    assert cart.json()["status"] == "active"  # nothing was ordered


@pytest.mark.parametrize("text", HOSTILE_TEXT)
async def test_product_names_refuse_control_and_bidi_characters(
    http: httpx.AsyncClient, admin: Caller, text: str
) -> None:
    sku = f"T-{uuid.uuid4().hex[:12]}"
    body = {"name": text, "price": 100, "currency": "USD", "stock": 1}
    answer = await http.put(f"/api/v1/admin/products/{sku}", json=body, headers=admin.headers)
    assert answer.status_code == 422, answer.text
    assert (
        await http.get(f"/api/v1/admin/products/{sku}", headers=admin.headers)
    ).status_code == 404


@pytest.mark.usefixtures("saga_worker")
async def test_names_in_any_script_are_still_accepted(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    cart_id = await filled_cart(http, customer, (str((await create_product())["sku"]), 1))
    name = "Zoë O'Brien-Łukasz \u05d3\u05d5\u05d3 \u0645\u062d\u0645\u062f 山田\u200f"  # RLM stays
    answer = await http.post(
        "/api/v1/orders/", json=checkout_body(cart_id, name=name), headers=customer.headers
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["shipping_address"]["name"] == name
    await wait_for_status(http, customer, answer.json()["id"])  # leaves no saga running


async def test_commerce_infra_prints_addresses_without_their_password(tmp_path: Path) -> None:
    """Every address external, so nothing starts: infra prints the three lines and waits."""
    env = {
        **os.environ,
        "COMMERCE_DATABASE_URL": _unreachable("postgresql"),
        "COMMERCE_REDIS_URL": _unreachable("redis"),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "COMMERCE_DATA_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "infra", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    assert process.stdout is not None
    try:
        lines = [await asyncio.wait_for(process.stdout.readline(), 60) for _ in range(3)]
    finally:
        process.terminate()
        await process.wait()
    printed = b"".join(lines).decode()
    assert "COMMERCE_DATABASE_URL=postgresql://shop:***@127.0.0.1:" in printed
    assert "COMMERCE_REDIS_URL=redis://shop:***@127.0.0.1:" in printed
    assert PASSWORD not in printed
