-- no-transaction
-- Retention blanks the phone number of KakaoTalk messages settled before the personal-data
-- horizon, a batch at a time. Through kakao_messages_due every batch walked every message
-- already blanked in the window (400k rows filtered for a 1,000-row batch, measured); this
-- index holds only the messages that still carry a number. Built CONCURRENTLY, outside a
-- transaction, so messages keep being written while it builds. If the build fails it leaves an
-- invalid index behind: drop it (DROP INDEX CONCURRENTLY kakao_messages_phone_kept) and run
-- `baedal migrate` again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS kakao_messages_phone_kept
    ON kakao_messages (status, next_attempt_at) WHERE phone <> '';
