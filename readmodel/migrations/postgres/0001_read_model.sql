-- The read model: written only by the worker's projection (orders, order_events) and the
-- catalog seeder (stores, menu_items, riders); read only by the api.

CREATE TABLE IF NOT EXISTS stores (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL,
    region  TEXT NOT NULL,
    address TEXT NOT NULL,
    lat     DOUBLE PRECISION NOT NULL,
    lon     DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS stores_region ON stores (region);

CREATE TABLE IF NOT EXISTS menu_items (
    id        TEXT PRIMARY KEY,
    store_id  TEXT NOT NULL REFERENCES stores (id),
    name      TEXT NOT NULL,
    price     BIGINT NOT NULL CHECK (price >= 0),
    available BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS menu_items_store ON menu_items (store_id);

CREATE TABLE IF NOT EXISTS riders (
    id     TEXT PRIMARY KEY,
    name   TEXT NOT NULL,
    region TEXT NOT NULL
);

-- Current view of each established (paid) order. `version` guards the projection: a write with
-- a lower or equal version than the stored one changes nothing.
CREATE TABLE IF NOT EXISTS orders (
    id          TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    status      TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    store_id    TEXT NOT NULL,
    region      TEXT NOT NULL,
    rider_id    TEXT,
    pickup_lat  DOUBLE PRECISION NOT NULL,
    pickup_lon  DOUBLE PRECISION NOT NULL,
    radius_bonus_km DOUBLE PRECISION NOT NULL DEFAULT 0,
    total       BIGINT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    view        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, created_at);
CREATE INDEX IF NOT EXISTS orders_store ON orders (store_id, status, created_at);
CREATE INDEX IF NOT EXISTS orders_status ON orders (status, pickup_lat);

-- The event log per order: one row per transition, keyed by (order_id, seq).
CREATE TABLE IF NOT EXISTS order_events (
    order_id TEXT NOT NULL,
    seq      BIGINT NOT NULL,
    status   TEXT NOT NULL,
    at       TEXT NOT NULL,
    reason   TEXT,
    PRIMARY KEY (order_id, seq)
);
