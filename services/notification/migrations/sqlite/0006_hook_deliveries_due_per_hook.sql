-- The due scan's index: per hook, its pending deliveries by due time, and nothing else (the
-- delivered, failed and abandoned history is not in it). Each round reads one short range of
-- it per live hook. (PostgreSQL builds it CONCURRENTLY; SQLite has one writer anyway.)
CREATE INDEX IF NOT EXISTS hook_deliveries_due_per_hook
    ON hook_deliveries (hook_id, next_attempt_at) WHERE status = 'pending';
