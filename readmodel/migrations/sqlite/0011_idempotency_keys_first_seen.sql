-- Keys are removed oldest first once past the idempotency window and its margin (see the
-- PostgreSQL migration of the same number, built CONCURRENTLY there).
CREATE INDEX IF NOT EXISTS idempotency_keys_first_seen ON idempotency_keys (first_seen_at);
