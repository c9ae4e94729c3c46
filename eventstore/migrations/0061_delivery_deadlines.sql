-- When each completed order's parcel must have been delivered; the delivery sweep marks the
-- order overdue past it (one row per order, settled once overdue or delivered).
CREATE TABLE delivery_deadlines (
    order_id  text        PRIMARY KEY,
    due_at    timestamptz NOT NULL,
    settled   boolean     NOT NULL DEFAULT false
);
CREATE INDEX delivery_deadlines_due ON delivery_deadlines (due_at) WHERE NOT settled;
