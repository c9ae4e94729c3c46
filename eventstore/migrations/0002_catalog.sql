-- The catalog: products at a price in minor units, and their stock.
-- `reserved` is held by order sagas (inventory reservation) until shipment or release.
CREATE TABLE products (
    sku        text        PRIMARY KEY CHECK (sku ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    name       text        NOT NULL,
    price      bigint      NOT NULL CHECK (price >= 0),
    currency   char(3)     NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stock (
    sku      text    PRIMARY KEY REFERENCES products(sku),
    on_hand  integer NOT NULL CHECK (on_hand >= 0),
    reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    CHECK (on_hand - reserved >= 0)
);
