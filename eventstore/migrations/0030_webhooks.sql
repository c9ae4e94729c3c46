-- Outbound webhooks: subscriptions, one delivery per (subscription, event), every attempt.
-- The event store is the outbox: a dispatcher follows the global feed from each subscription's
-- `position` and fans matching events out into deliveries in the same transaction that moves it.
CREATE TABLE webhook_subscriptions (
    id                       uuid        PRIMARY KEY,
    url                      text        NOT NULL,
    event_types              text[]      NOT NULL,
    active                   boolean     NOT NULL DEFAULT true,
    description              text        NOT NULL DEFAULT '',
    -- Signing secrets, sealed with the payload keys (AES-GCM); the previous one still signs
    -- until previous_secret_expires_at (rotation with a grace period).
    secret_sealed            bytea       NOT NULL,
    previous_secret_sealed   bytea,
    previous_secret_expires_at timestamptz,
    -- The last global position fanned out for this subscription (it starts at the head).
    position                 bigint      NOT NULL,
    -- Set at the first failed attempt after a success; a whole retry window of it disables.
    failing_since            timestamptz,
    disabled_reason          text,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_subscriptions_by_created ON webhook_subscriptions (created_at DESC, id DESC);

CREATE TABLE webhook_deliveries (
    id                  uuid        PRIMARY KEY,
    subscription_id     uuid        NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_id            uuid        NOT NULL,
    event_type          text        NOT NULL,
    order_id            text        NOT NULL,
    global_position     bigint      NOT NULL,
    recorded_at         timestamptz NOT NULL,  -- the event's: a pending delivery's age is lag
    -- The exact body signed and sent, every time (a redelivery is byte for byte the same).
    payload             text        NOT NULL,
    status              text        NOT NULL DEFAULT 'pending'
                                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts            integer     NOT NULL DEFAULT 0,
    next_attempt_at     timestamptz NOT NULL DEFAULT now(),
    retry_until         timestamptz NOT NULL,
    last_attempt_at     timestamptz,
    last_response_code  integer,
    last_error          text,
    delivered_at        timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (subscription_id, event_id)
);
-- The next delivery of each order per subscription (order is kept per order id).
CREATE INDEX webhook_deliveries_pending
    ON webhook_deliveries (subscription_id, order_id, global_position) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_listing
    ON webhook_deliveries (subscription_id, created_at DESC, id DESC);

CREATE TABLE webhook_attempts (
    delivery_id     uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt         integer     NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- NULL while in flight, and forever for an attempt whose worker died during it.
    finished_at     timestamptz,
    response_code   integer,
    error           text,
    PRIMARY KEY (delivery_id, attempt)
);
