-- Settled refunds are removed oldest first once past their retention (see the PostgreSQL
-- migration of the same number, built CONCURRENTLY there).
CREATE INDEX IF NOT EXISTS refunds_settled ON refunds (settled_at) WHERE status = 'succeeded';
