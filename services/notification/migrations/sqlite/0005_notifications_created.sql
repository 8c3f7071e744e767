-- Notifications are deleted oldest first once past BAEDAL_NOTIFICATION_RETENTION (see the
-- PostgreSQL migration of the same number, built CONCURRENTLY there).
CREATE INDEX IF NOT EXISTS notifications_created ON notifications (created_at);
