-- The event store: one row per domain event, ordered globally and per stream.
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    stream_version  integer     NOT NULL CHECK (stream_version >= 1),
    event_id        uuid        NOT NULL UNIQUE,
    event_type      text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- Positions are handed out before commit, so a reader of the global feed only trusts rows whose
    -- transaction is older than every transaction still in flight (see EventStore.read_all).
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    UNIQUE (stream_id, stream_version)
);
