-- Stuck orders: open orders by how long they have sat in their status (`updated_at` is the
-- time of the last transition). Partial, so the index holds only open orders, however many
-- closed ones pile up.
CREATE INDEX IF NOT EXISTS orders_open_since ON orders (updated_at)
    WHERE status NOT IN ('completed', 'rejected', 'canceled', 'payment_failed');

-- Which (order, status) ops were already alerted about as stuck, so each stuck status is
-- alerted once. Written by the worker's stuck sweep.
CREATE TABLE IF NOT EXISTS stuck_alerts (
    order_id   TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    alerted_at TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);

-- Place-order idempotency keys, as the api first saw them (`order_id` is derived from the
-- customer and the key). Kept after the window so a key reused later is refused, never
-- charged again. Written by the api, the one table it writes.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    order_id      TEXT PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
