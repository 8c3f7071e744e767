-- The rider board reads candidates from its index alone: with the columns its filter and its
-- distance order need in the index, only the rows answered are fetched from the table (where
-- each row carries its whole view). `status` and `rider_id`, constant here, are in it because
-- SQLite counts an index as covering only when it holds every column the query names. A
-- million orders, a thousand waiting near a rider: a thousand index entries, ten rows.
DROP INDEX IF EXISTS orders_rider_board;
CREATE INDEX orders_rider_board
    ON orders (pickup_lat, pickup_lon, radius_bonus_km, region, id, status, rider_id)
    WHERE status = 'ready_for_pickup' AND rider_id IS NULL;
