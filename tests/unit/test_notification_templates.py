"""Customer notification templates: one text and one HTML template per notified event, each
rendering for real orders; money in the currency's minor units; HTML escaped."""

from __future__ import annotations

from importlib import resources

import pytest

from commerce.notification_templates import NOTIFIED, NotificationTemplates, money
from domain.public_events import BY_NAME
from tests.public_event_orders import SCENARIOS, feed_items

TEMPLATES = resources.files("commerce") / "templates" / "notifications"


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(1999, "USD", "19.99 USD"), (5, "EUR", "0.05 EUR"), (1500, "JPY", "1500 JPY"),
     (12345, "KWD", "12.345 KWD"), (-250, "GBP", "-2.50 GBP"), (0, "USD", "0.00 USD")],
)  # fmt: skip
def test_money_is_shown_in_the_currencys_major_unit(amount: int, currency: str, shown: str) -> None:
    assert money(amount, currency) == shown


def test_every_notified_event_is_in_the_catalogue_with_a_text_and_an_html_template() -> None:
    assert set(NOTIFIED) <= set(BY_NAME)
    names = {path.name for path in TEMPLATES.iterdir()}
    for kind in NOTIFIED:
        assert {f"{kind}.txt", f"{kind}.html"} <= names


def test_each_notified_event_of_the_scenarios_renders_with_links_and_escaping() -> None:
    templates = NotificationTemplates("https://shop.test/")
    rendered = set()
    for name, build in SCENARIOS.items():
        for item in feed_items(build(name)):
            if item.entry.name not in NOTIFIED:
                continue
            message = templates.render(item)
            rendered.add(message.kind)
            assert message.subject and item.order.order_id in message.subject
            assert message.text.startswith("Hello Ada <b>Lovelace</b>,")
            assert "&lt;b&gt;Lovelace" in message.html and "<b>" not in message.html
            assert f"https://shop.test/orders/{item.order.order_id}" in message.html
    assert rendered == set(NOTIFIED)


def test_a_return_tells_the_customer_its_label_what_arrived_and_the_refund() -> None:
    templates = NotificationTemplates("https://shop.test/")
    texts: dict[str, str] = {}
    for item in feed_items(SCENARIOS["returned_by_carrier"]("o-ret")):
        if item.entry.name in NOTIFIED:
            texts.setdefault(item.entry.name, templates.render(item).text)  # the first of each
    assert "1 x Mug" in texts["return.approved"]
    assert "return tracking number RTN-1" in texts["return.label_created"]
    assert "arrived:\n  1 x Mug\n" in texts["return.received"]
    assert "12.50 USD for the items you sent back" in texts["refund.issued"]
    rejected = [
        templates.render(item).text
        for item in feed_items(SCENARIOS["return_rejected"]("o-rej"))
        if item.entry.name == "return.rejected"
    ]
    assert "1 x Tea <Earl Grey>" in rejected[0] and "Why: opened." in rejected[0]
