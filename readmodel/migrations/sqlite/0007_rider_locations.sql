-- Where each rider last said they were (`POST /v1/rider/location`), for the arrival estimate
-- customers see while the rider is on the way. Written by the api, not the projection: it is
-- a rider's report, not a change of any order, and the order's workflow never sees it (a
-- signal every few seconds per delivery would grow every history for nothing durable).
-- One row per rider, overwritten by each report; `at` is the api's clock (RFC 3339 UTC).
-- A position is kept only while an estimate can use it: the worker deletes older ones.
CREATE TABLE rider_locations (
    rider_id TEXT PRIMARY KEY,
    lat      REAL NOT NULL,
    lon      REAL NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX rider_locations_at ON rider_locations (at);

-- A rider's deliveries in a given status (the ones on the way, when a position comes in).
-- Partial: without a rider an order is not in it, so the rider board's `rider_id IS NULL`
-- can never be served from it instead of `orders_rider_board`.
CREATE INDEX orders_rider ON orders (rider_id, status) WHERE rider_id IS NOT NULL;
