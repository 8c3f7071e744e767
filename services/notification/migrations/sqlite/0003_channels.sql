-- What each person wants to hear through (the KakaoTalk channel, the in-app inbox) and the
-- number KakaoTalk reaches them on; absent means the inbox only.
CREATE TABLE IF NOT EXISTS channel_prefs (
    recipient  TEXT PRIMARY KEY,
    kakao      BIGINT NOT NULL,
    inbox      BIGINT NOT NULL,
    -- E.164 (+821012345678).
    phone      TEXT,
    updated_at TEXT NOT NULL
);

-- KakaoTalk messages owed, one per recipient and status change, as rows: a restart loses
-- none. The id is the provider's idempotency key.
CREATE TABLE IF NOT EXISTS kakao_messages (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    phone           TEXT NOT NULL,
    template_code   TEXT NOT NULL,
    variables       TEXT NOT NULL,
    text            TEXT NOT NULL,
    fallback_text   TEXT NOT NULL,
    status          TEXT NOT NULL,
    channel         TEXT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_code       TEXT,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (recipient, order_id, seq)
);
CREATE INDEX IF NOT EXISTS kakao_messages_due ON kakao_messages (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS kakao_messages_order ON kakao_messages (order_id, seq);
