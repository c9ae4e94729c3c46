-- The saga-start outbox. Checkout records each order's start request before it appends OrderPlaced,
-- and marks it once Temporal has the saga; the worker's reconciler starts every placed order whose
-- request is still unmarked (Temporal was unreachable at checkout). The saga's input carries the
-- payment token, so it is kept only as a Temporal payload sealed with the payload keys (AES-GCM,
-- the key id inside), and dropped once the saga has started.
CREATE TABLE saga_starts (
    order_id      text        PRIMARY KEY,
    total         bigint      NOT NULL,  -- minor units: the saga's OrderTotal search attribute
    sealed_input  bytea,                 -- NULL once started
    requested_at  timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    -- checkout or reconciler: whose start call returned the saga; earlier: the reconciler found it
    -- had run already (its workflow closed, or its order's stream went past OrderPlaced)
    started_by    text CHECK (started_by IN ('checkout', 'reconciler', 'earlier')),
    CHECK ((started_at IS NULL) = (sealed_input IS NOT NULL)),
    CHECK ((started_at IS NULL) = (started_by IS NULL))
);
CREATE INDEX saga_starts_pending ON saga_starts (requested_at, order_id) WHERE started_at IS NULL;
