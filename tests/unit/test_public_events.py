"""The public event catalogue: every entry has a schema its payloads satisfy, payloads carry no
payment secrets or street addresses, and subscriptions name types by the catalogue's rules."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import jsonschema
import pytest

from domain.public_events import BY_NAME, CATALOGUE, envelope, matches, pattern_refusal
from tests.public_event_orders import ADDRESS, CLIENT_SECRET, SCENARIOS, feed_items

SCHEMAS = resources.files("domain") / "event_schemas"


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.json").read_text())
    return loaded


def _public_events() -> list[dict[str, Any]]:
    events = []
    for name, build in SCENARIOS.items():
        for item in feed_items(build(name)):
            events.append(envelope(item.entry, item.order, item.event,
                                   item.recorded.event_id, item.recorded.recorded_at))  # fmt: skip
    return events


def test_every_catalogue_entry_has_exactly_one_schema_file() -> None:
    files = {p.name.removesuffix(".json") for p in SCHEMAS.iterdir() if p.name.endswith(".json")}
    assert files == set(BY_NAME)
    for entry in CATALOGUE:
        schema = _schema(entry.name)
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"] == {"const": entry.name}
        assert schema["properties"]["schema_version"] == {"const": entry.version}


def test_payloads_of_every_event_type_satisfy_their_schema() -> None:
    events = _public_events()
    assert {e["type"] for e in events} == set(BY_NAME)  # the scenarios cover the catalogue
    for event in events:
        jsonschema.validate(
            event, _schema(event["type"]), format_checker=jsonschema.FormatChecker()
        )
        assert event["timestamp"].endswith("Z")


def test_no_payload_carries_a_payment_secret_or_a_street_address() -> None:
    text = json.dumps(_public_events())
    for private in (CLIENT_SECRET, "pi_3ds", "auth-1", ADDRESS.line1, ADDRESS.name,
                    ADDRESS.postal_code):  # fmt: skip
        assert private not in text


def test_the_amendment_offer_names_what_is_kept_dropped_and_both_totals() -> None:
    [offer] = [e for e in _public_events() if e["type"] == "order.amendment_proposed"]
    assert offer["data"]["dropped_skus"] == ["TEA"]
    assert [i["sku"] for i in offer["data"]["items"]] == ["MUG"]
    assert (offer["data"]["total"], offer["data"]["original_total"]) == (2500, 2999)


def _events_of(scenario: str) -> list[dict[str, Any]]:
    return [
        envelope(item.entry, item.order, item.event, item.recorded.event_id,
                 item.recorded.recorded_at)
        for item in feed_items(SCENARIOS[scenario](scenario))
    ]  # fmt: skip


def test_a_return_tells_its_label_what_came_back_and_its_refund_names_the_return() -> None:
    events = _events_of("returned_by_carrier")
    returns = [e for e in events if e["type"].startswith("return.")]
    assert [e["type"] for e in returns] == [
        "return.requested", "return.approved", "return.label_created", "return.received",
    ]  # fmt: skip
    assert [e["data"]["tracking_number"] for e in returns] == [None, None, "RTN-1", "RTN-1"]
    assert {e["data"]["return_id"] for e in returns} == {"ret-1"}
    received = returns[-1]["data"]
    assert received["received"] == [{"sku": "MUG", "name": "Mug", "quantity": 1}]
    refunds = [e["data"] for e in events if e["type"] == "refund.issued"]
    assert [(r["return_id"], r["amount"], r["refunded_total"]) for r in refunds] == [
        ("ret-1", 1250, 1250), (None, 100, 1350),  # the return's, then an operator's
    ]  # fmt: skip


def test_a_cancel_after_completion_says_what_was_refunded() -> None:
    events = _events_of("cancelled_after_completion")
    [refund] = [e["data"] for e in events if e["type"] == "refund.issued"]
    [cancelled] = [e["data"] for e in events if e["type"] == "order.cancelled"]
    assert refund["return_id"] is None
    assert cancelled["refunded_total"] == refund["amount"] == cancelled["total"] == 2999


def test_a_rejected_or_closed_return_says_why() -> None:
    [rejected] = [e for e in _events_of("return_rejected") if e["type"] == "return.rejected"]
    [closed] = [e for e in _events_of("return_closed") if e["type"] == "return.closed"]
    assert (rejected["data"]["status"], rejected["data"]["reason"]) == ("rejected", "opened")
    assert (closed["data"]["status"], closed["data"]["tracking_number"]) == ("closed", "RTN-1")


@pytest.mark.parametrize(
    ("pattern", "refused"),
    [("order.placed", False), ("shipment.*", False), ("*", False), ("return.*", False),
     ("return.label_created", False), ("order.shipped", True), ("orders.*", True),
     ("order.*.x", True), ("returns.*", True), ("", True)],
)  # fmt: skip
def test_subscriptions_name_catalogue_types_families_or_everything(
    pattern: str, refused: bool
) -> None:
    assert (pattern_refusal(pattern) is not None) is refused


def test_patterns_select_types() -> None:
    assert matches(["shipment.*"], "shipment.lost")
    assert not matches(["shipment.*"], "order.placed")
    assert matches(["order.placed", "refund.issued"], "refund.issued")
    assert matches(["*"], "order.stalled")
