-- The carrier webhook's inbox: one row per carrier event id, with the answer it got, so a
-- replayed delivery of the same event has no second effect and gets the same answer.
CREATE TABLE carrier_events (
    event_id    text        PRIMARY KEY,
    order_id    text        NOT NULL,
    status      text        NOT NULL,
    http_status integer     NOT NULL,
    answer      jsonb       NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Carriers name parcels by tracking number: find the order from its ShipmentCreated event.
CREATE INDEX events_tracking_number ON events ((data ->> 'tracking_number'))
    WHERE event_type = 'ShipmentCreated';
