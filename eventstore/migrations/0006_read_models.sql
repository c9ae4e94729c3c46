-- Read models (CQRS), projected from the global event feed by eventstore.projections.Projector.
-- Each projection stores the last global position it applied; its read-model writes and the
-- checkpoint commit in one transaction, so every event takes effect exactly once.
CREATE TABLE projection_checkpoints (
    name      text   PRIMARY KEY,
    position  bigint NOT NULL
);

-- One row per order for listings; timestamps are the recorded_at of the events.
CREATE TABLE order_summaries (
    order_id        text        PRIMARY KEY,
    customer_id     text        NOT NULL,
    status          text        NOT NULL,
    -- The status a stalled order returns to when its step is resumed.
    resume_status   text,
    currency        text        NOT NULL,
    total           bigint      NOT NULL,
    item_count      integer     NOT NULL,
    failure_reason  text,
    failed_step     text,
    tracking_number text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    completed_at    timestamptz,
    last_position   bigint      NOT NULL
);
CREATE INDEX order_summaries_by_customer
    ON order_summaries (customer_id, created_at DESC, order_id DESC);
CREATE INDEX order_summaries_by_status ON order_summaries (status, created_at DESC);

-- Saga statistics: failures per step (a stall counts as a failure of its step) and counters.
CREATE TABLE saga_step_failures (
    step      text   PRIMARY KEY,
    failures  bigint NOT NULL
);

CREATE TABLE saga_counters (
    name   text   PRIMARY KEY,
    value  bigint NOT NULL
);
