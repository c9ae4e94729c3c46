"""Prometheus metrics of the event dispatcher: webhooks and customer notifications."""

from prometheus_client import Counter, Gauge

DISPATCHER_LAG = Gauge(
    "commerce_dispatcher_lag_events",
    "Events in the store beyond a feed follower's position (webhook ranges, notifications;"
    " read at most once a second)",
    ["consumer"],
)
WEBHOOK_LAG = Gauge(
    "commerce_webhook_lag_seconds",
    "Age of the oldest event not yet delivered to a subscription (0 when none waits)",
    ["subscription"],
)
WEBHOOK_ATTEMPTS = Counter(
    "commerce_webhook_attempts_total",
    "Webhook delivery attempts by outcome (delivered, retrying, failed)",
    ["outcome"],
)
WEBHOOK_DELIVERIES_FAILED = Counter(
    "commerce_webhook_deliveries_failed_total",
    "Webhook deliveries given up after COMMERCE_WEBHOOK_RETRY_HOURS (alert on any increase)",
)
WEBHOOK_SUBSCRIPTIONS_DISABLED = Counter(
    "commerce_webhook_subscriptions_disabled_total",
    "Subscriptions disabled after failing for a whole retry window",
)
NOTIFICATIONS_SENT = Counter(
    "commerce_notifications_sent_total",
    "Customer notifications handed to the notifier, by event type",
    ["type"],
)
