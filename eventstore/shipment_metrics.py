"""The carrier-report counter, shared by the worker (reports its tracking workflows record) and
the API (reports it records on orders the delivery sweep watches): one definition, one name."""

from prometheus_client import Counter

SHIPMENT_REPORTS = Counter(
    "commerce_shipment_events_total",
    "Carrier reports recorded on orders (stale and repeated ones are not counted)",
    ["status"],
)
