-- Refunds owed, as the worker's refund activity sees them, attempt by attempt: an order whose
-- refund keeps failing shows `pending` with its attempts and last error (the order view, the
-- stuck list, ops' payment health) until the PSP confirms the money moved. Written by the
-- refund activity, best effort (a read model that is down never holds a refund up), and
-- never by the api. `owed_since` is the first attempt (RFC 3339 UTC); `alerted_at` is when ops
-- were told the refund is stuck.
CREATE TABLE refunds (
    order_id   TEXT PRIMARY KEY,
    amount     BIGINT NOT NULL,
    status     TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    last_error TEXT,
    owed_since TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    settled_at TEXT,
    alerted_at TEXT
);
-- The pending ones, oldest first: the stuck list and the health summary read only these.
CREATE INDEX refunds_pending ON refunds (owed_since) WHERE status = 'pending';

-- When the api first knew the key's workflow to exist (RFC 3339 UTC): from then on a retry of
-- the key only ever addresses that workflow, and never starts one. If the engine no longer
-- holds it (retention, `temporal workflow delete`), the retry is answered from the read model
-- or refused, never a second lifecycle under the same order id and charge key. NULL: the api
-- stopped between recording the key and starting the workflow, so a retry may start it.
ALTER TABLE idempotency_keys ADD COLUMN started_at TEXT;
