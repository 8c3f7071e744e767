-- Fenced leases and settled hooks. Expand only: nullable columns without a default (no table
-- rewrite, no long lock); a release that does not know them keeps working beside them.
--
-- lease_token: the lease of the attempt under way (a fresh random value per lease), cleared
-- when its outcome is recorded. An outcome is written only WHERE lease_token = the attempt's
-- own, so an attempt that outlived its lease can never undo a newer outcome.
ALTER TABLE hook_deliveries ADD COLUMN lease_token TEXT;
ALTER TABLE kakao_messages ADD COLUMN lease_token TEXT;
-- settled_at: when what a disabled or deleted hook was owed had all been made `abandoned`
-- (the settler looks only at stopped hooks not settled yet).
ALTER TABLE hooks ADD COLUMN settled_at TEXT;
