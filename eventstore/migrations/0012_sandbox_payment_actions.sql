-- The sandbox gateway's payments that need the customer (3-D Secure): one row per pending
-- authorization, settled by the sandbox control that stands in for the customer's bank.
CREATE TABLE sandbox_payment_actions (
    authorization_id  text        PRIMARY KEY,
    order_id          text        NOT NULL,
    status            text        NOT NULL CHECK (status IN ('requires_action', 'authorized', 'failed')),
    reason            text        NOT NULL DEFAULT '',
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sandbox_payment_actions_by_order ON sandbox_payment_actions (order_id);
