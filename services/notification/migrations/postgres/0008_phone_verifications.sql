-- A customer's proof that a phone number is theirs before KakaoTalk messages go to it: one
-- row per customer and number they asked a code for. The code is kept only as an HMAC
-- (`code_hash`, NULL once used), valid until `expires_at`, tried at most the configured number
-- of times (`attempts`); `sends` counts the codes sent since `window_start` (the send limit per
-- customer and per number). `verified_at` is set while the number is the one the customer
-- proved. Unverified rows go a day after their last code (docs/retention.md).
CREATE TABLE IF NOT EXISTS phone_verifications (
    recipient    TEXT NOT NULL,
    phone        TEXT NOT NULL,
    code_hash    TEXT,
    expires_at   TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    sends        BIGINT NOT NULL DEFAULT 0,
    window_start TEXT NOT NULL,
    sent_at      TEXT NOT NULL,
    verified_at  TEXT,
    PRIMARY KEY (recipient, phone)
);
-- The send limit per number (across customers), and the prune of old unverified rows.
CREATE INDEX IF NOT EXISTS phone_verifications_phone ON phone_verifications (phone, window_start);
CREATE INDEX IF NOT EXISTS phone_verifications_sent ON phone_verifications (sent_at);
