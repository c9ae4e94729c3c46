"""Health probes through the HTTP app against the real servers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from api.app import create_app
from commerce.embedded import free_port
from commerce.settings import Settings
from tests.e2e.conftest import make_caller


async def test_live_answers_while_the_process_is_up(http: httpx.AsyncClient) -> None:
    answer = await http.get("/health/live")
    assert answer.status_code == 200


async def test_ready_when_postgres_redis_and_temporal_answer(
    http: httpx.AsyncClient, settings: Settings
) -> None:
    answer = await http.get("/health/ready")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok"}  # anonymous: up or down, nothing more
    admin = make_caller(settings, "admin")
    answer = await http.get("/health/ready", headers=admin.headers)
    assert answer.json()["checks"] == {"postgres": "ok", "redis": "ok", "temporal": "ok"}


async def test_not_ready_names_the_server_that_does_not_answer_only_to_an_admin(
    settings: Settings,
) -> None:
    broken = settings.model_copy(
        update={"redis_url": f"redis://shop:s3cret-pw@127.0.0.1:{free_port()}/0"}
    )
    app: FastAPI = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            anonymous = await client.get("/health/ready")
            customer = await client.get("/health/ready", headers=make_caller(settings).headers)
            admin = await client.get(
                "/health/ready", headers=make_caller(settings, "admin").headers
            )
    for answer in (anonymous, customer):
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert "checks" not in answer.json()
        assert "redis" not in answer.text.lower() and "127.0.0.1" not in answer.text
    assert admin.status_code == 503
    body = admin.json()
    assert body["checks"]["redis"].startswith("unavailable")
    assert body["checks"]["postgres"] == "ok" and body["checks"]["temporal"] == "ok"
    assert "redis" in body["detail"]
    assert "s3cret-pw" not in admin.text


async def test_openapi_and_docs_are_served(http: httpx.AsyncClient) -> None:
    assert (await http.get("/openapi.json")).json()["info"]["title"] == "Commerce API"
    assert (await http.get("/docs")).status_code == 200


async def test_a_request_that_cannot_reach_redis_is_a_503_to_repeat(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    app: FastAPI = create_app(broken)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.post(
                "/api/v1/cart/", json={}, headers=make_caller(settings).headers
            )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "Redis" in answer.json()["detail"]
