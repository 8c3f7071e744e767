-- Retention blanks the phone number of KakaoTalk messages settled before the personal-data
-- horizon, a batch at a time: this index holds only the messages that still carry a number, so
-- a batch does not walk the ones already blanked.
CREATE INDEX IF NOT EXISTS kakao_messages_phone_kept
    ON kakao_messages (status, next_attempt_at) WHERE phone <> '';
