-- The inbox without its copies (issue 20, part 7: less written per order). An inbox row held
-- the notification's status, message and time again, and three indexes (the id, the unique
-- (recipient, order_id, seq), the recipient's); about 690 bytes of WAL per row, 14 rows per
-- order. An entry now names the notification it shows, which the reader joins for those
-- fields, under two indexes: its id, and the recipient's entries in id order. It needs no
-- unique key of its own: entries are written only in the transaction that created their
-- notification (the notification's key makes them once).
--
-- Expand, then contract: `inbox` stays, read beside `inbox_entries`, while the previous
-- release's replicas may still write it during a rollout, and retention empties it within
-- BAEDAL_NOTIFICATION_RETENTION. The release after drops it (first moving the sequence both
-- draw ids from: ALTER SEQUENCE inbox_id_seq OWNED BY inbox_entries.id). One sequence for both
-- keeps one id order across them, which the inbox read and the prune go by.
CREATE TABLE IF NOT EXISTS inbox_entries (
    id        BIGINT PRIMARY KEY DEFAULT nextval('inbox_id_seq'),
    recipient TEXT NOT NULL,
    order_id  TEXT NOT NULL,
    seq       BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_entries_recipient ON inbox_entries (recipient, id);
