-- A charge key replayed with another card must be refused, so each charge keeps which card it
-- was made with: the SHA-256 (hex) of the card token, never the token itself, so the ledger
-- holds no card data. Rows from before this migration keep NULL and are compared by amount.
ALTER TABLE payments ADD COLUMN card_fingerprint TEXT;
