-- How far each store delivers (km), from the catalog: a place-order whose delivery point lies
-- further from the store is refused (422 outside_delivery_area). NULL: the api's default
-- (`BAEDAL_DELIVERY_RADIUS`). A nullable column without a default: PostgreSQL adds it to the
-- catalog only, without rewriting or scanning `stores`.
ALTER TABLE stores ADD COLUMN delivery_radius_km REAL;
