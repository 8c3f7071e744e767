-- no-transaction
-- The due scan's index: per hook, its pending deliveries by due time, and nothing else (the
-- delivered, failed and abandoned history is not in it). Each round reads one short range of
-- it per live hook. Built CONCURRENTLY, outside a transaction, so deliveries keep being
-- written while it builds. If the build fails it leaves an invalid index behind: drop it
-- (DROP INDEX CONCURRENTLY hook_deliveries_due_per_hook) and run `baedal migrate` again.
CREATE INDEX CONCURRENTLY hook_deliveries_due_per_hook
    ON hook_deliveries (hook_id, next_attempt_at) WHERE status = 'pending';
