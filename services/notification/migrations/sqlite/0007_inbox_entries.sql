-- The inbox without its copies: see the PostgreSQL migration of the same number. SQLite is
-- one process (no previous release writes beside this one), so the old rows move over here
-- and the read needs only the new table; `inbox` stays, empty, for the statements that still
-- name it. The webhook-disabled notices had no notification of their own: they get one.
CREATE TABLE IF NOT EXISTS inbox_entries (
    id        INTEGER PRIMARY KEY,
    recipient TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    seq       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_entries_recipient ON inbox_entries (recipient, id);
INSERT OR IGNORE INTO notifications (order_id, seq, status, message, created_at)
    SELECT order_id, seq, status, message, created_at FROM inbox WHERE order_id LIKE 'hook:%';
INSERT INTO inbox_entries (id, recipient, order_id, seq)
    SELECT id, recipient, order_id, seq FROM inbox;
DELETE FROM inbox WHERE id IS NOT NULL;
