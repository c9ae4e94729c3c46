"""Customer data never sits in clear in Temporal's history; the codec server and replay still
read it with the shop's keys."""

from __future__ import annotations

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer

from commerce.codec_server import _admin_token_check, create_codec_app
from commerce.payload_codec import ENCODING, codec_for, data_converter_for
from commerce.settings import Settings
from commerce.tokens import mint_token
from tests.e2e.conftest import Caller, CreateProduct
from tests.e2e.orders_support import checkout_body, filled_cart, wait_for_status
from workflows.contract import order_workflow_id
from workflows.order_fulfillment import OrderFulfillmentWorkflow

pytestmark = pytest.mark.usefixtures("saga_worker")
TOKEN = "tok_secret_card_4242"


async def _raw_history(settings: Settings, order_id: str) -> WorkflowHistory:
    """The history as Temporal stores it: fetched without the shop's keys."""
    raw = await Client.connect(settings.temporal_address)
    return await raw.get_workflow_handle(order_workflow_id(order_id)).fetch_history()


@pytest.fixture
async def order_id(http: httpx.AsyncClient, customer: Caller, create_product: CreateProduct) -> str:
    sku = str((await create_product())["sku"])
    cart_id = await filled_cart(http, customer, (sku, 1))
    body = checkout_body(cart_id, TOKEN, line1="42 Secret Lane", name="Ada Private")
    placed = await http.post("/api/v1/orders/", json=body, headers=customer.headers)
    order = await wait_for_status(http, customer, placed.json()["id"])
    assert order["status"] == "completed"
    return str(order["id"])


async def test_raw_history_holds_no_customer_data_and_every_payload_is_sealed(
    settings: Settings, order_id: str
) -> None:
    history = await _raw_history(settings, order_id)
    text = history.to_json()

    for secret in (TOKEN, "Secret Lane", "Ada Private"):
        assert secret not in text
    started = history.events[0].workflow_execution_started_event_attributes
    assert [p.metadata["encoding"] for p in started.input.payloads] == [ENCODING]


async def test_encrypted_history_replays_with_the_shops_keys(
    settings: Settings, order_id: str
) -> None:
    history = await _raw_history(settings, order_id)
    replayer = Replayer(
        workflows=[OrderFulfillmentWorkflow], data_converter=data_converter_for(settings)
    )
    assert (await replayer.replay_workflow(history)).replay_failure is None


async def test_codec_server_shows_the_ui_payloads_in_clear_only_to_admins(
    settings: Settings, order_id: str
) -> None:
    history = await _raw_history(settings, order_id)
    sealed = history.events[0].workflow_execution_started_event_attributes.input
    body = json_format.MessageToJson(Payloads(payloads=sealed.payloads))
    production = settings.model_copy(update={"environment": "production"})
    app = create_codec_app(
        codec_for(settings), settings.temporal_ui_url, _admin_token_check(production)
    )
    admin = mint_token(settings, "ops", ["customer", "admin"])
    customer = mint_token(settings, "ada", ["customer"])

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as codec:
        decoded = await codec.post(
            "/decode", content=body, headers={"Authorization": f"Bearer {admin}"}
        )
        refused = await codec.post(
            "/decode", content=body, headers={"Authorization": f"Bearer {customer}"}
        )
        anonymous = await codec.post("/decode", content=body)

    assert decoded.status_code == 200
    clear = json_format.ParseDict(decoded.json(), Payloads())
    assert TOKEN.encode() in clear.payloads[0].data
    assert (refused.status_code, anonymous.status_code) == (401, 401)
