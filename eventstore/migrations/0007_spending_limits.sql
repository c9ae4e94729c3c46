-- Shop-wide settings an admin changes at run time (e.g. the per-customer spending limit).
CREATE TABLE shop_settings (
    name        text        PRIMARY KEY,
    value       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What each order holds against its customer's spending limit: held until the order fails or is
-- cancelled; a completed order's hold stays, since that money was spent.
CREATE TABLE spending_holds (
    order_id     text        PRIMARY KEY,
    customer_id  text        NOT NULL,
    currency     text        NOT NULL,
    amount       bigint      NOT NULL CHECK (amount >= 0),
    status       text        NOT NULL CHECK (status IN ('held', 'refused', 'released')),
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX spending_holds_by_customer ON spending_holds (customer_id, currency) WHERE status = 'held';
