-- no-transaction
-- The webhook backlog gauges (baedal_webhook_deliveries_owed, baedal_webhook_oldest_owed_seconds)
-- read how many deliveries are owed and since when: this index holds only the pending ones, by
-- age, so the count is an index-only scan of the backlog and the oldest its first entry,
-- however long the delivered history grows. Built CONCURRENTLY, outside a transaction, so
-- deliveries keep being written while it builds. If the build fails it leaves an invalid index
-- behind: drop it (DROP INDEX CONCURRENTLY hook_deliveries_owed) and run `baedal migrate` again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS hook_deliveries_owed
    ON hook_deliveries (created_at) WHERE status = 'pending';
