-- The webhook backlog gauges (baedal_webhook_deliveries_owed, baedal_webhook_oldest_owed_seconds)
-- read how many deliveries are owed and since when: this index holds only the pending ones, by
-- age, so both are read from it alone however long the delivered history grows.
CREATE INDEX IF NOT EXISTS hook_deliveries_owed
    ON hook_deliveries (created_at) WHERE status = 'pending';
