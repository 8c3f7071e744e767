-- Riders are people with tokens, not catalog rows: nothing ever read this table but tests.
DROP TABLE IF EXISTS riders;
