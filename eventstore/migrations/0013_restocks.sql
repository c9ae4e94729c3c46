-- Goods a return brought back, put on hand once per return.
CREATE TABLE restocks (
    return_id   text        PRIMARY KEY,
    order_id    text        NOT NULL,
    lines       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
