-- Each notification once per (order, status change), and each recipient's inbox.
CREATE TABLE IF NOT EXISTS notifications (
    order_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (order_id, seq)
);
CREATE TABLE IF NOT EXISTS inbox (
    id BIGSERIAL PRIMARY KEY,
    recipient TEXT NOT NULL,
    order_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    status TEXT NOT NULL,
    message TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (recipient, order_id, seq)
);
CREATE INDEX IF NOT EXISTS inbox_recipient ON inbox (recipient, id);
