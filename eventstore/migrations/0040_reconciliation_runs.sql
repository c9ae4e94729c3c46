-- Every whole-shop reconciliation run (`commerce reconcile`, GET /api/v1/admin/reconciliation) and
-- what it found, by kind: each API process exports the latest as commerce_reconciliation_mismatches.
CREATE TABLE reconciliation_runs (
    run_id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    since             timestamptz,
    orders_checked    integer     NOT NULL,
    orders_in_flight  integer     NOT NULL,
    mismatches        jsonb       NOT NULL  -- kind -> count, every kind listed
);

-- Reconciliation walks the orders placed since a date: OrderPlaced events in time order.
CREATE INDEX events_orders_placed ON events (recorded_at, global_position)
    WHERE event_type = 'OrderPlaced';
