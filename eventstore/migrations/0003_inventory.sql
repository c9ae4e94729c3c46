-- One reservation per order: held stock is counted in stock.reserved until released or committed.
CREATE TABLE reservations (
    order_id    text        PRIMARY KEY,
    status      text        NOT NULL CHECK (status IN ('held', 'released', 'committed')),
    lines       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
