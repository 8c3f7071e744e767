-- Operational status documents published by running parts (the worker's payment breaker), so
-- the api can show them at /v1/ops/* without reaching into another process.
CREATE TABLE IF NOT EXISTS ops_status (
    name       TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
