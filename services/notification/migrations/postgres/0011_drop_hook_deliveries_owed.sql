-- no-transaction
-- The webhook gauges read the per-hook index of pending deliveries (hook_deliveries_due_per_hook)
-- after all: the owed count a bounded range of it, the lateness one probe per hook. The index of
-- 0010 held the same rows a second time, and every delivery written paid for it. Dropped
-- CONCURRENTLY, outside a transaction, so deliveries keep being written meanwhile.
DROP INDEX CONCURRENTLY IF EXISTS hook_deliveries_owed;
