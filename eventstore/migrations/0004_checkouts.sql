-- A checkout claims its cart once and remembers the customer's idempotency key and request.
CREATE TABLE checkouts (
    order_id         text        PRIMARY KEY,
    customer_id      text        NOT NULL,
    cart_id          text        NOT NULL UNIQUE,
    idempotency_key  text,
    request_hash     text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (customer_id, idempotency_key)
);
CREATE INDEX checkouts_by_customer ON checkouts (customer_id, created_at DESC, order_id DESC);
