-- A discontinued product is no longer sold (not listed, not addable, refused at checkout);
-- its row, its stock and the orders that hold it are kept. Putting the product sells it again.
ALTER TABLE products ADD COLUMN discontinued_at timestamptz;
