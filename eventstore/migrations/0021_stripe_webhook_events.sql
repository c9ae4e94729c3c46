-- Stripe's webhook inbox: one row per event id with the SHA-256 of the body it came with, so a
-- redelivery (same id, same body) has no second effect and a reused id with another body is
-- refused. `processed_at` is set by whatever acts on the event.
CREATE TABLE stripe_webhook_events (
    event_id          text        PRIMARY KEY,
    body_sha256       text        NOT NULL,
    event_type        text        NOT NULL,
    payment_intent_id text,
    order_id          text,
    created_at_stripe timestamptz NOT NULL,
    payload           jsonb       NOT NULL,
    received_at       timestamptz NOT NULL DEFAULT now(),
    processed_at      timestamptz
);
CREATE INDEX stripe_webhook_events_by_intent ON stripe_webhook_events (payment_intent_id);
