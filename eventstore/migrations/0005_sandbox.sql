-- The sandbox providers' ledger: every effect once per idempotency key, so tests and drills can
-- prove that no order was authorized, captured or shipped twice.
CREATE TABLE sandbox_ledger (
    idempotency_key  text        PRIMARY KEY,
    provider         text        NOT NULL,
    operation        text        NOT NULL,
    order_id         text        NOT NULL,
    amount           bigint,
    reference        text        NOT NULL,
    detail           text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_ledger_by_order ON sandbox_ledger (order_id);

CREATE TABLE sandbox_calls (
    call_key  text    PRIMARY KEY,
    calls     integer NOT NULL
);

CREATE TABLE sandbox_providers (
    name       text    PRIMARY KEY,
    available  boolean NOT NULL
);
