-- The change log, second form (see the PostgreSQL migration of the same number). SQLite has
-- one writer at a time, so positions commit in order; `xid` is always 0 and (xid, pos) order
-- is pos order.
CREATE TABLE order_log (
    pos       INTEGER PRIMARY KEY AUTOINCREMENT,
    xid       INTEGER NOT NULL DEFAULT 0,
    order_id  TEXT NOT NULL,
    version   INTEGER NOT NULL,
    seq       INTEGER NOT NULL,
    status    TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    logged_at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
CREATE INDEX order_log_follow ON order_log (xid, pos);
CREATE INDEX order_log_store ON order_log (store_id, xid, pos);
INSERT INTO sqlite_sequence (name, seq) SELECT 'order_log', COALESCE(MAX(pos), 0) FROM order_changes;
