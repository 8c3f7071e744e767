-- no-transaction
-- Settled refunds are removed oldest first once past BAEDAL_NOTIFICATION_RETENTION: an index
-- on when each settled, holding only the settled ones (the pending ones have their own), so a
-- batch reads only the rows it removes however many refunds the years leave. Built
-- CONCURRENTLY (outside a transaction), so the refund activity keeps recording while it builds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS refunds_settled ON refunds (settled_at) WHERE status = 'succeeded';
