-- The catalog's version: one number that moves, at commit, with every transaction that writes
-- `products` (a price, a name, a currency, a product sold again or discontinued), and a
-- notification on channel `catalog_changed` carrying the new number. API processes keep prices
-- in memory for carts (api/catalog_cache.py): the notification drops them at once, and the
-- version, read every half of COMMERCE_CATALOG_CACHE_MAX_STALE_S, drops them if a notification
-- was lost. Stock is not part of it: carts never read stock.
CREATE TABLE catalog_version (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version   bigint  NOT NULL
);
INSERT INTO catalog_version (version) VALUES (0);

-- Deferred to commit, so the row lock on `catalog_version` is the last lock a writer takes
-- (concurrent catalog writers cannot deadlock on it) and is held only while it commits; once per
-- transaction, however many rows it wrote.
CREATE FUNCTION catalog_version_moves() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved bigint;
BEGIN
    IF current_setting('commerce.catalog_version_moved', true) IS DISTINCT FROM
            txid_current()::text THEN
        UPDATE catalog_version SET version = version + 1 RETURNING version INTO moved;
        PERFORM set_config('commerce.catalog_version_moved', txid_current()::text, true);
        PERFORM pg_notify('catalog_changed', moved::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER products_move_catalog_version
    AFTER INSERT OR UPDATE OR DELETE ON products
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION catalog_version_moves();
