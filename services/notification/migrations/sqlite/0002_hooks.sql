-- Webhook subscriptions and the deliveries owed to them (one per hook, order and seq), as rows:
-- a restart loses none, and the delivery loop picks up where it was.
CREATE TABLE IF NOT EXISTS hooks (
    id              TEXT PRIMARY KEY,
    owner           TEXT NOT NULL,
    url             TEXT NOT NULL,
    events          TEXT NOT NULL,
    secret          TEXT NOT NULL,
    -- After a rotation the old secret signs beside the new one until previous_secret_until.
    previous_secret       TEXT,
    previous_secret_until TEXT,
    created_at      TEXT NOT NULL,
    disabled_at     TEXT,
    disabled_reason TEXT,
    failing_since   TEXT,
    deleted         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS hooks_owner ON hooks (owner, created_at);

CREATE TABLE IF NOT EXISTS hook_deliveries (
    id              TEXT PRIMARY KEY,
    hook_id         TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_status     BIGINT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    delivered_at    TEXT,
    UNIQUE (hook_id, order_id, seq)
);
CREATE INDEX IF NOT EXISTS hook_deliveries_due ON hook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS hook_deliveries_hook ON hook_deliveries (hook_id, created_at);
