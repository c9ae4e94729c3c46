"""The post-sale workflows' contract: ids, inputs, decisions, update names.

A customer's or operator's request (a cancel after completion, a refund, a return) starts its
workflow with an update (update-with-start): the update records the request in the order's
stream — the domain decides, one append at the stream's version — and answers the decision, so
the HTTP caller learns it at once; the workflow then carries the request out durably.
"""

from __future__ import annotations

from workflows.after_sale_inputs import (
    CancellationRequest,
    Decision,
    Progress,
    RefundRequest,
    ReturnItem,
    ReturnReceipt,
    ReturnRequest,
    ReturnReview,
    ReturnStep,
    StepTiming,
)

__all__ = [
    "CancellationRequest",
    "Decision",
    "Progress",
    "RefundRequest",
    "ReturnItem",
    "ReturnReceipt",
    "ReturnRequest",
    "ReturnReview",
    "ReturnStep",
    "StepTiming",
]

CANCELLATION_WORKFLOW = "OrderCancellationWorkflow"
REFUND_WORKFLOW = "RefundWorkflow"
RETURN_WORKFLOW = "ReturnWorkflow"

UPDATE_REQUEST = "request"  # the first update of every post-sale workflow: record and decide
UPDATE_APPROVE_RETURN = "approve"
UPDATE_REJECT_RETURN = "reject"
UPDATE_RECEIVE_RETURN = "receive"
UPDATE_RETRY_STEP = "retry"
SIGNAL_RETURN_DELIVERED = "return_delivered"
QUERY_PROGRESS = "progress"
# The error type of an UPDATE_REQUEST refused for its Idempotency-Key's other body: the API
# answers it as every other reuse of a key (api.digests.IdempotencyKeyReused).
KEY_REUSED = "IdempotencyKeyReused"


def cancellation_workflow_id(order_id: str) -> str:
    return f"cancellation-{order_id}"


def refund_workflow_id(request_id: str) -> str:
    return f"refund-{request_id}"


def return_workflow_id(return_id: str) -> str:
    return f"return-{return_id}"
