"""Customer data never sits in clear in Temporal's history (payloads, failure messages, the
CustomerId search attribute); the codec server and replay still read it with the shop's keys, and
the codec server decrypts for an authorised operator only."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.client import Client, WorkflowHistory
from temporalio.common import SearchAttributeKey
from temporalio.converter import DataConverter
from temporalio.worker import Replayer

from commerce.codec_server import create_codec_app, is_loopback
from commerce.customer_keys import customer_search_key
from commerce.embedded import free_port, port_answers
from commerce.payload_codec import (
    ENCODING,
    EncryptionCodec,
    codec_for,
    data_converter_for,
    new_key_spec,
    parse_keys,
)
from commerce.settings import Settings
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from workflows.contract import order_workflow_id
from workflows.order_fulfillment import OrderFulfillmentWorkflow

pytestmark = pytest.mark.usefixtures("saga_worker")
TOKEN = "tok_secret_card_4242"
UI = "http://temporal-ui.test:8233"
PLACEHOLDER = "REPLACE-ME-with-a-long-random-string"  # the old deploy/k8s/secret.yaml's


async def _raw_history(settings: Settings, order_id: str) -> WorkflowHistory:
    """The history as Temporal stores it: fetched without the shop's keys."""
    raw = await Client.connect(settings.temporal_address)
    return await raw.get_workflow_handle(order_workflow_id(order_id)).fetch_history()


async def _place(
    http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct, token: str
) -> dict[str, object]:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    body = checkout_body(cart_id, token, line1="42 Secret Lane", name="Ada Private")
    placed = await http.post("/api/v1/orders/", json=body, headers=customer.headers)
    return await wait_for_status(http, customer, placed.json()["id"])


@pytest.fixture
async def order_id(http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct) -> str:
    order = await _place(http, customer, create_product, TOKEN)
    assert order["status"] == "completed"
    return str(order["id"])


def _failures(history: WorkflowHistory) -> Iterator[Failure]:
    """Every failure recorded in the history, causes included."""
    for event in history.events:
        for attributes in (
            event.activity_task_failed_event_attributes,
            event.workflow_execution_failed_event_attributes,
        ):
            failure: Failure | None = attributes.failure
            while failure is not None and failure.ByteSize():
                yield failure
                failure = failure.cause if failure.HasField("cause") else None


async def test_raw_history_holds_no_customer_data_and_every_payload_is_sealed(
    settings: Settings, order_id: str, customer: Caller
) -> None:
    history = await _raw_history(settings, order_id)
    text = history.to_json()

    for secret in (TOKEN, "Secret Lane", "Ada Private", customer.subject):
        assert secret not in text
    started = history.events[0].workflow_execution_started_event_attributes
    assert [p.metadata["encoding"] for p in started.input.payloads] == [ENCODING]
    assert started.memo.fields["customer_id"].metadata["encoding"] == ENCODING
    # Search attributes are indexed, so never encrypted: the customer id must not be one.
    for attribute in started.search_attributes.indexed_fields.values():
        assert customer.subject.encode() not in attribute.data


async def test_failure_messages_and_stack_traces_are_sealed_in_the_history(
    settings: Settings, http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct
) -> None:
    order = await _place(http, customer, create_product, "tok_decline")
    assert order["status"] == "failed" and "declin" in str(order["failure_reason"]).lower()
    history = await _raw_history(settings, str(order["id"]))

    failures = list(_failures(history))
    assert failures, "a declined card leaves a failed activity in the history"
    assert {(f.message, f.stack_trace) for f in failures} == {("Encoded failure", "")}
    # The error's type (PaymentDeclined) stays readable: retry policies name it. Its text not.
    assert "card was declined" not in history.to_json()
    assert "Traceback" not in history.to_json() and ".py" not in history.to_json()
    [clear] = await codec_for(settings).decode([failures[0].encoded_attributes])
    attributes = DataConverter.default.payload_converter.from_payloads([clear])[0]
    assert "card was declined" in attributes["message"] and ".py" in attributes["stack_trace"]


async def test_customer_id_search_attribute_is_a_keyed_hash_found_with_the_cli(
    settings: Settings, order_id: str, customer: Caller, temporal_client: Client
) -> None:
    description = await temporal_client.get_workflow_handle(order_workflow_id(order_id)).describe()
    stored = description.typed_search_attributes.get(SearchAttributeKey.for_keyword("CustomerId"))
    assert stored == customer_search_key(settings, customer.subject) != customer.subject

    env = {**os.environ, "COMMERCE_DATA_DIR": str(settings.data_dir)}
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "customer-key", customer.subject,
        env=env, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    printed, _ = await cli.communicate()
    assert printed.decode().strip() == stored

    query = f'CustomerId = "{stored}"'
    for _ in range(100):  # visibility is eventually consistent
        found = [w.id async for w in temporal_client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.1)
    assert found == [order_workflow_id(order_id)]


async def test_encrypted_history_replays_with_the_shops_keys(
    settings: Settings, order_id: str
) -> None:
    history = await _raw_history(settings, order_id)
    replayer = Replayer(
        workflows=[OrderFulfillmentWorkflow], data_converter=data_converter_for(settings)
    )
    assert (await replayer.replay_workflow(history)).replay_failure is None


# ---------------------------------------------------------------- the codec server


def _production(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "environment": "production",
            "jwt_issuer": "https://auth.shop.test/",
            "jwt_audience": "commerce-api",
            "temporal_ui_url": UI + "/namespaces/default",
        }
    )


def _token(key: str, **claims: object) -> str:
    base: dict[str, object] = {
        "sub": "ops",
        "roles": ["admin"],
        "exp": int(time.time()) + 600,
        "iss": "https://auth.shop.test/",
        "aud": "commerce-api",
    }
    return jwt.encode(
        {k: v for k, v in {**base, **claims}.items() if v is not None}, key, algorithm="HS256"
    )


def _sealed_body(payloads: list[Payload]) -> str:
    return json_format.MessageToJson(Payloads(payloads=payloads))


@pytest.fixture
async def sealed(settings: Settings, order_id: str) -> str:
    history = await _raw_history(settings, order_id)
    started = history.events[0].workflow_execution_started_event_attributes
    return _sealed_body(list(started.input.payloads))


@pytest.fixture
async def production_codec(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_codec_app(codec_for(settings), _production(settings))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))  # not loopback
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
        yield client


async def test_production_codec_server_decodes_for_an_admin_token_only(
    settings: Settings, sealed: str, production_codec: httpx.AsyncClient
) -> None:
    secret = str(settings.jwt_secret)
    admin = _token(secret)
    attempts = {
        "customer": (_token(secret, roles=["customer"]), 403),
        "no exp": (_token(secret, exp=None), 401),
        "expired": (_token(secret, exp=int(time.time()) - 60), 401),
        "wrong audience": (_token(secret, aud="someone-else"), 401),
        "no audience": (_token(secret, aud=None), 401),
        "wrong issuer": (_token(secret, iss="https://evil.test/"), 401),
        "published placeholder": (_token(PLACEHOLDER), 401),
        "alg none": (jwt.encode({"sub": "ops", "roles": ["admin"]}, None, algorithm="none"), 401),
        "garbage": ("not-a-jwt", 401),
    }
    ok = await production_codec.post(
        "/decode", content=sealed, headers={"Authorization": f"Bearer {admin}"}
    )
    assert ok.status_code == 200, ok.text
    clear = json_format.ParseDict(ok.json(), Payloads())
    assert TOKEN.encode() in clear.payloads[0].data

    anonymous = await production_codec.post("/decode", content=sealed)
    assert anonymous.status_code == 401
    for name, (token, status) in attempts.items():
        answer = await production_codec.post(
            "/decode", content=sealed, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert TOKEN not in answer.text


async def test_codec_server_refuses_clear_tampered_and_foreign_payloads(
    settings: Settings, production_codec: httpx.AsyncClient
) -> None:
    admin = {"Authorization": f"Bearer {_token(str(settings.jwt_secret))}"}
    clear = DataConverter.default.payload_converter.to_payloads([{"card": TOKEN}])
    [tampered] = await codec_for(settings).encode(clear)
    tampered.data = tampered.data[:-1] + bytes([tampered.data[-1] ^ 1])
    [foreign] = await EncryptionCodec(parse_keys(new_key_spec("gone")), "gone").encode(clear)
    for name, body, status in (
        ("clear input is not echoed", _sealed_body(clear), 422),
        ("tampered", _sealed_body([tampered]), 422),
        ("a key not configured", _sealed_body([foreign]), 422),
        ("not a Payloads document", "{]", 400),
    ):
        answer = await production_codec.post("/decode", content=body, headers=admin)
        assert answer.status_code == status, (name, answer.text)
        assert TOKEN not in answer.text


async def test_codec_server_answers_cors_for_the_temporal_ui_origin_only(
    production_codec: httpx.AsyncClient,
) -> None:
    def preflight(origin: str) -> dict[str, str]:
        return {
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        }

    allowed = await production_codec.options("/decode", headers=preflight(UI))
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == UI
    assert "access-control-allow-credentials" not in allowed.headers
    for origin in ("http://evil.test", "null", UI + ".evil.test"):
        refused = await production_codec.options("/decode", headers=preflight(origin))
        assert "access-control-allow-origin" not in refused.headers, origin


async def test_development_codec_server_refuses_a_caller_not_on_loopback(
    settings: Settings, sealed: str
) -> None:
    app = create_codec_app(codec_for(settings), settings)  # development: no token needed
    for peer, status in (("127.0.0.1", 200), ("::1", 200), ("192.0.2.7", 403), ("10.0.0.8", 403)):
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://codec") as client:
            answer = await client.post("/decode", content=sealed)
        assert answer.status_code == status, (peer, answer.text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("192.0.2.7", False),
        ("::ffff:192.0.2.7", False),
        ("0.0.0.0", False),
        ("localhost", False),  # a peer address is never a name
        ("", False),
        (None, False),
    ],
)
def test_loopback_decision(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def _non_loopback_address() -> str | None:
    """This machine's address on its default route, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("203.0.113.1", 9))
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if is_loopback(address) else address


async def test_development_codec_server_bound_to_every_address_serves_loopback_only(
    settings: Settings, sealed: str, tmp_path: Path
) -> None:
    address = _non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address (the peer test above covers it)")
    port = free_port()
    env = {
        **os.environ,
        "COMMERCE_ENVIRONMENT": "development",
        "COMMERCE_DATA_DIR": str(tmp_path),
        "COMMERCE_API_HOST": "0.0.0.0",
        "COMMERCE_CODEC_PORT": str(port),
        "COMMERCE_PAYLOAD_KEYS": str(settings.payload_keys),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "commerce.cli", "codec-server", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            if await port_answers(port):
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(timeout=10) as client:
            remote = await client.post(f"http://{address}:{port}/decode", content=sealed)
            local = await client.post(f"http://127.0.0.1:{port}/decode", content=sealed)
    finally:
        server.terminate()
        await server.wait()
    assert remote.status_code == 403, remote.text
    assert local.status_code == 200, local.text
    clear = json_format.ParseDict(local.json(), Payloads())
    assert TOKEN.encode() in clear.payloads[0].data


async def test_the_saga_and_each_activity_say_what_they_do_sealed_like_every_payload(
    settings: Settings, order_id: str
) -> None:
    history = await _raw_history(settings, order_id)
    assert "authorize 19.99 USD" not in history.to_json()  # sealed in the raw history
    codec = codec_for(settings)

    async def text(payload: Payload) -> str:
        [clear] = await codec.decode([payload])
        value = DataConverter.default.payload_converter.from_payload(clear, str)
        assert isinstance(value, str)
        return value

    started = history.events[0]
    summary = await text(started.user_metadata.summary)
    assert summary == f"Order {order_id[:8]}… · 1 item · 19.99 USD"
    scheduled = [  # a local activity's summary is on its marker
        await text(event.user_metadata.summary)
        for event in history.events
        if event.HasField("activity_task_scheduled_event_attributes")
        or (event.HasField("marker_recorded_event_attributes") and event.user_metadata.summary.data)
    ]
    assert scheduled[:2] == ["authorize 19.99 USD", "reserve the order's stock"]
    assert "capture 19.99 USD" in scheduled
