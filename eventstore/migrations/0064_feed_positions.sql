-- The global feed is followed in (transaction id, global position) order (eventstore.store.
-- FeedPosition): a position is handed out before commit, so a younger transaction can hold a
-- lower one and commit later, and a follower that checkpointed positions alone stepped past it
-- for good. Every checkpoint becomes that pair.
CREATE INDEX IF NOT EXISTS events_in_feed_order ON events (transaction_id, global_position);

ALTER TABLE projection_checkpoints ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0';
ALTER TABLE webhook_subscriptions ADD COLUMN position_transaction_id xid8 NOT NULL DEFAULT '0';

-- A checkpoint at position p becomes the last pair before anything it may not have read: the
-- events after p, and whatever the transactions still in flight may add (they sort after every
-- finished one). No event is skipped; an event already read that sorts after the pair is read
-- again, which every follower tolerates (deliveries and notifications are keyed by event id, the
-- read models skip what is not past an order's last position).
CREATE FUNCTION pg_temp.feed_position_after(p bigint, OUT tx xid8, OUT pos bigint)
LANGUAGE sql AS $$
    SELECT coalesce(f.tx, '0'), coalesce(f.pos, 0) FROM (SELECT) AS one LEFT JOIN (
        SELECT candidates.tx, candidates.pos FROM (
            (SELECT transaction_id AS tx, global_position - 1 AS pos FROM events
             WHERE global_position > p ORDER BY transaction_id, global_position LIMIT 1)
            UNION ALL
            (SELECT transaction_id, global_position FROM events
             WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
             ORDER BY transaction_id DESC, global_position DESC LIMIT 1)
        ) AS candidates
        ORDER BY candidates.tx, candidates.pos LIMIT 1
    ) AS f ON true
$$;

UPDATE projection_checkpoints AS c SET (transaction_id, position) = (
    SELECT tx, pos FROM pg_temp.feed_position_after(c.position)
) WHERE c.position > 0;

UPDATE webhook_subscriptions AS s SET (position_transaction_id, position) = (
    SELECT tx, pos FROM pg_temp.feed_position_after(s.position)
) WHERE s.position > 0;

DROP FUNCTION pg_temp.feed_position_after(bigint);
