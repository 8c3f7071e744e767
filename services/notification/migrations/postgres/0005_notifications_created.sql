-- no-transaction
-- Notifications are deleted oldest first once past BAEDAL_NOTIFICATION_RETENTION; their key
-- (order, seq) says nothing of their age, so an index on when each was accepted lets a batch
-- read only the rows it deletes. Built CONCURRENTLY (outside a transaction), so notifications
-- keep being accepted while it is built.
CREATE INDEX CONCURRENTLY IF NOT EXISTS notifications_created ON notifications (created_at);
