-- The change log, second form: one narrow row per new version of an order's view, in commit
-- order, with no copy of the view (live streams read the order's current view from `orders`).
--
-- Positions come from a sequence, so two projections committing side by side can make their
-- positions visible out of order. Nothing serialises the writers; instead each row carries
-- the id of the transaction that wrote it (`xid`), and a follower reads only rows whose
-- transaction is below the oldest one still running (`pg_snapshot_xmin`), in (xid, pos)
-- order: everything below that line is final, so a follower never skips a row that commits
-- late. `logged_at` is the database's clock (milliseconds since the epoch), for retention.
--
-- `order_changes` (the first form, a full view per row) is no longer written; it stays for one
-- release so the previous one can run beside this one, and empties itself by retention.
CREATE TABLE order_log (
    pos       BIGSERIAL PRIMARY KEY,
    xid       BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    order_id  TEXT NOT NULL,
    version   BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    status    TEXT NOT NULL,
    store_id  TEXT NOT NULL,
    logged_at BIGINT NOT NULL DEFAULT ((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
);
CREATE INDEX order_log_follow ON order_log (xid, pos);
CREATE INDEX order_log_store ON order_log (store_id, xid, pos);
-- Positions carry on from the first form's, so a stream position a client holds from before
-- is never mistaken for a newer one.
SELECT setval(pg_get_serial_sequence('order_log', 'pos'),
              (SELECT COALESCE(MAX(pos), 0) + 1 FROM order_changes), false);
