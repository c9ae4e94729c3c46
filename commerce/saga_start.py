"""Starting an order's saga, the one way the checkout and the saga reconciler both do it, and the
start request sealed for the saga-start outbox (eventstore/saga_starts.py).

The saga's input carries the payment token, which is never stored in clear: the outbox keeps the
input as a Temporal payload encrypted by the client's payload codec (commerce/payload_codec.py,
AES-GCM with the key id inside), so the keys that protect Temporal's history protect it too, and
rotate the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError

from commerce.payload_codec import (
    ENCODING,
    EncryptionCodec,
    UndecryptablePayload,
    UnknownPayloadKey,
)
from commerce.settings import Settings
from workflows.contract import TASK_QUEUE, OrderFulfillmentInput, SagaPolicy, order_workflow_id
from workflows.ui_contract import saga_summary

WORKFLOW_TYPE = "OrderFulfillmentWorkflow"
_STATUS = SearchAttributeKey.for_keyword("OrderStatus")
_CUSTOMER = SearchAttributeKey.for_keyword("CustomerId")
_TOTAL = SearchAttributeKey.for_int("OrderTotal")


@dataclass(frozen=True, slots=True)
class SagaStart:
    """What starts an order's saga: its input, and what it is listed by: the order total (minor
    units) and the customer's search key (commerce/customer_keys.py, never the raw id)."""

    input: OrderFulfillmentInput
    total: int
    customer_key: str

    @property
    def order_id(self) -> str:
        return self.input.order_id


def saga_policy(settings: Settings) -> SagaPolicy:
    """The retry timing fixed into each saga when it starts."""
    return SagaPolicy(
        step_max_attempts=settings.saga_step_max_attempts,
        step_initial_retry_ms=settings.saga_step_initial_retry_ms,
        stall_timeout_s=settings.saga_stall_timeout_s,
        delivery_timeout_s=settings.delivery_timeout_s,
        amendment_timeout_s=settings.amendment_timeout_s,
        cleanup_prompt_attempts=settings.saga_cleanup_attempts,
        payment_action_timeout_s=settings.payment_action_timeout_s,
        payment_recheck_s=settings.payment_recheck_s,
    )


async def start_saga(client: Client, start: SagaStart) -> bool:
    """Start the order's saga `order-<id>`, or find it: a running one is used (a repeat joins it),
    and a closed one is never run again. Returns False when it had already closed.

    Raises what the client raises when Temporal cannot be reached (RPCError UNAVAILABLE, or the
    lazily connected client's RuntimeError).
    """
    attributes = TypedSearchAttributes([
        SearchAttributePair(_STATUS, "pending"),
        SearchAttributePair(_CUSTOMER, start.customer_key),
        SearchAttributePair(_TOTAL, start.total),
    ])  # fmt: skip
    try:
        await client.start_workflow(
            WORKFLOW_TYPE,
            start.input,
            id=order_workflow_id(start.order_id),
            task_queue=TASK_QUEUE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=attributes,
            memo={"customer_id": start.input.customer_id},  # sealed by the codec, unlike attributes
            # What the Temporal UI lists (sealed by the codec too, shown through the codec server).
            static_summary=saga_summary(
                start.order_id, start.input.items, start.total, start.input.currency
            ),
            static_details=f"customer key {start.customer_key}",
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


def _codec(client: Client) -> EncryptionCodec:
    codec = client.data_converter.payload_codec
    if not isinstance(codec, EncryptionCodec):  # never keep a payment token in clear
        raise TypeError("the Temporal client has no encrypting payload codec")
    return codec


async def seal(client: Client, saga_input: OrderFulfillmentInput) -> bytes:
    """The saga's input as an encrypted Temporal payload, serialised for the outbox."""
    payload = client.data_converter.payload_converter.to_payload(saga_input)
    [sealed] = await _codec(client).encode([payload])
    return sealed.SerializeToString()


async def unseal(client: Client, sealed: bytes) -> OrderFulfillmentInput:
    """The input `seal` sealed. Raises UnknownPayloadKey when its key is no longer configured,
    ValueError when the bytes are not a sealed payload."""
    try:
        envelope = Payload.FromString(sealed)
    except DecodeError as error:
        raise ValueError("not a sealed payload") from error
    if envelope.metadata.get("encoding") != ENCODING:  # the codec would pass clear text through
        raise ValueError("not a sealed payload")
    try:
        [payload] = await _codec(client).decode([envelope])
    except UnknownPayloadKey:
        raise
    except UndecryptablePayload as error:  # tampered with, or sealed with another key of the id
        raise ValueError(f"the sealed payload does not authenticate: {error}") from error
    saga_input = client.data_converter.payload_converter.from_payload(
        payload, OrderFulfillmentInput
    )
    assert isinstance(saga_input, OrderFulfillmentInput)
    return saga_input
