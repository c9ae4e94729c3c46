"""Prometheus metrics of the projector (module-level, as prometheus_client expects)."""

from prometheus_client import Counter, Gauge

PROJECTOR_LAG = Gauge(
    "commerce_projector_lag_events",
    "Events in the store beyond the projection's checkpoint (read at most once a second)",
    ["projection"],
)
PROJECTOR_EVENTS = Counter(
    "commerce_projector_events_total",
    "Events the projector has applied to read models",
    ["projection"],
)
