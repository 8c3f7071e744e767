-- no-transaction
-- Keys are removed oldest first once past the idempotency window and its margin: an index on
-- when each was first seen, so a batch reads only the keys it removes. Built CONCURRENTLY
-- (outside a transaction), so the api keeps recording keys while it is built.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idempotency_keys_first_seen ON idempotency_keys (first_seen_at);
