-- A checkout record holds the order it decided (currency and lines at checkout prices), so a
-- replay of its Idempotency-Key is answered from the record alone, whatever became of the cart.
ALTER TABLE checkouts ADD COLUMN currency char(3), ADD COLUMN lines jsonb;
UPDATE checkouts c SET currency = e.data ->> 'currency', lines = e.data -> 'lines'
FROM events e
WHERE e.stream_id = 'order-' || c.order_id AND e.event_type = 'OrderPlaced';
-- A claim whose OrderPlaced was never appended decided nothing (checkout used to append it
-- before converting the cart, so that cart is still active and can be checked out anew).
DELETE FROM checkouts WHERE lines IS NULL;

-- The carrier inbox compares a digest of the event's body, so a reused event id with another
-- body is refused; the row is taken before the event is delivered, its answer kept after.
ALTER TABLE carrier_events ADD COLUMN request_digest text,
    ALTER COLUMN http_status DROP NOT NULL, ALTER COLUMN answer DROP NOT NULL;
