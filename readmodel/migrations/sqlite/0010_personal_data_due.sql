-- Closed orders whose personal data (the delivery address and its coordinates in the stored
-- view) is to be erased once BAEDAL_PERSONAL_DATA_RETENTION has passed since they closed.
-- Filled by the change log's pruning: an entry of a closed order that leaves the log puts its
-- order here (with the time it was logged, milliseconds since the epoch), so no index on
-- `orders` is needed to find them, and the erasure takes them oldest first from this small
-- table and deletes each entry once done. The order's stored view records the erasure itself
-- (`personal_data_erased_at`), so it is done once.
CREATE TABLE personal_data_due (
    order_id  TEXT PRIMARY KEY,
    closed_at BIGINT NOT NULL
);
CREATE INDEX personal_data_due_closed ON personal_data_due (closed_at);
