-- Boards that stay fast at a million orders, and the change log live status follows.

-- Open orders come first on every board: `active` is 1 until the order reaches a terminal
-- status (the projection writes it from the domain's rule).
ALTER TABLE orders ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
UPDATE orders SET active = 0
 WHERE status IN ('completed', 'rejected', 'canceled', 'payment_failed');

-- Customer and store boards: newest first within active-first, or within one status, each a
-- range scan of one index, paged by (created_at, id).
DROP INDEX IF EXISTS orders_customer;
DROP INDEX IF EXISTS orders_store;
CREATE INDEX orders_customer_board ON orders (customer_id, active, created_at, id);
CREATE INDEX orders_customer_status ON orders (customer_id, status, created_at, id);
CREATE INDEX orders_store_board ON orders (store_id, active, created_at, id);
CREATE INDEX orders_store_status ON orders (store_id, status, created_at, id);

-- Rider board: only deliveries waiting for a rider, by pickup location. Partial, so it holds
-- the few orders on the board however many closed ones pile up.
DROP INDEX IF EXISTS orders_status;
CREATE INDEX orders_rider_board ON orders (pickup_lat, pickup_lon)
    WHERE status = 'ready_for_pickup' AND rider_id IS NULL;

-- The change log: one row per new version of an order's view, in the order the views were
-- committed (`pos`). Live status streams follow it by `pos` (the SSE event id), and
-- `baedal readmodel rebuild` rebuilds `orders` from it. `seq` is the order's status
-- transition the view is at; `(order_id, seq)` in `order_events` remains the history.
CREATE TABLE order_changes (
    pos      INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id TEXT NOT NULL,
    version  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    status   TEXT NOT NULL,
    store_id TEXT NOT NULL,
    at       TEXT NOT NULL,
    view     TEXT NOT NULL,
    UNIQUE (order_id, version)
);
CREATE INDEX order_changes_store ON order_changes (store_id, pos);

-- What was projected before the log existed enters it as each order's current view.
INSERT INTO order_changes (order_id, version, seq, status, store_id, at, view)
SELECT id, version, seq, status, store_id, updated_at, view FROM orders ORDER BY updated_at, id;
