//! Riders' reported positions (`rider_locations`): written by the api when a rider on the way
//! reports where they are, read beside an order's view for its arrival estimate.

use crate::db::ReadModel;
use baedal_domain::OrderStatus;
use baedal_domain::eta::en_route;
use sqlx::Row;

/// Where a rider last said they were; `at` is RFC 3339 (the api's clock at the report).
#[derive(Debug, Clone, PartialEq)]
pub struct RiderLocation {
    pub lat: f64,
    pub lon: f64,
    pub at: String,
}

impl ReadModel {
    /// The rider's deliveries with a rider on the way ([`en_route`]): `(order id, status)`.
    pub async fn deliveries_en_route(
        &self,
        rider_id: &str,
    ) -> crate::Result<Vec<(String, OrderStatus)>> {
        let mut statuses = OrderStatus::ALL.into_iter().filter(|s| en_route(*s));
        let (a, b) = (statuses.next(), statuses.next());
        debug_assert!(statuses.next().is_none(), "two statuses are bound below");
        let rows = sqlx::query(
            "SELECT id, status FROM orders WHERE rider_id = $1 AND status IN ($2, $3) ORDER BY id",
        )
        .bind(rider_id)
        .bind(a.map(OrderStatus::as_str))
        .bind(b.map(OrderStatus::as_str))
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let status = r.get::<String, _>("status").parse().ok()?;
                Some((r.get("id"), status))
            })
            .collect())
    }

    /// Where `rider_id` last said they were.
    pub async fn rider_location(&self, rider_id: &str) -> crate::Result<Option<RiderLocation>> {
        let row = self
            .db
            .fetch_optional_hot(|| {
                sqlx::query("SELECT lat, lon, at FROM rider_locations WHERE rider_id = $1")
                    .bind(rider_id)
            })
            .await?;
        Ok(row.map(|r| RiderLocation {
            lat: r.get("lat"),
            lon: r.get("lon"),
            at: r.get("at"),
        }))
    }

    /// Keep `location` as the rider's latest, replacing the one before.
    pub async fn save_rider_location(
        &self,
        rider_id: &str,
        location: &RiderLocation,
    ) -> crate::Result<()> {
        sqlx::query(
            "INSERT INTO rider_locations (rider_id, lat, lon, at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (rider_id) DO UPDATE SET lat = excluded.lat, lon = excluded.lon, at = excluded.at",
        )
        .bind(rider_id)
        .bind(location.lat)
        .bind(location.lon)
        .bind(&location.at)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Keep `location` as the rider's latest if the row still holds what the caller checked it
    /// against: the report at `last_at`, or none (`None`). False when another report came in
    /// between (two reports at once must not both pass a speed check against the same one).
    pub async fn replace_rider_location(
        &self,
        rider_id: &str,
        location: &RiderLocation,
        last_at: Option<&str>,
    ) -> crate::Result<bool> {
        let done =
            match last_at {
                None => sqlx::query(
                    "INSERT INTO rider_locations (rider_id, lat, lon, at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (rider_id) DO NOTHING",
                )
                .bind(rider_id)
                .bind(location.lat)
                .bind(location.lon)
                .bind(&location.at)
                .execute(self.pool())
                .await?,
                Some(last_at) => {
                    sqlx::query(
                        "UPDATE rider_locations SET lat = $1, lon = $2, at = $3
                     WHERE rider_id = $4 AND at = $5",
                    )
                    .bind(location.lat)
                    .bind(location.lon)
                    .bind(&location.at)
                    .bind(rider_id)
                    .bind(last_at)
                    .execute(self.pool())
                    .await?
                }
            };
        Ok(done.rows_affected() == 1)
    }

    /// Delete the positions reported before `before` (RFC 3339): a rider's whereabouts are
    /// kept only as long as an estimate may use them. How many went.
    pub async fn forget_rider_locations(&self, before: &str) -> crate::Result<u64> {
        let done = sqlx::query("DELETE FROM rider_locations WHERE at < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> RiderLocation {
        RiderLocation {
            lat: 37.5,
            lon: 127.0,
            at: s.to_owned(),
        }
    }

    #[tokio::test]
    async fn a_report_replaces_the_last_one_and_old_ones_are_forgotten() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.save_rider_location("rd_1", &at("2026-12-02T10:00:00.000Z"))
            .await
            .unwrap();
        rm.save_rider_location("rd_1", &at("2026-12-02T10:04:00.000Z"))
            .await
            .unwrap();
        rm.save_rider_location("rd_2", &at("2026-12-02T10:01:00.000Z"))
            .await
            .unwrap();
        assert_eq!(
            rm.rider_location("rd_1").await.unwrap(),
            Some(at("2026-12-02T10:04:00.000Z"))
        );
        let gone = rm
            .forget_rider_locations("2026-12-02T10:02:00.000Z")
            .await
            .unwrap();
        assert_eq!(gone, 1);
        assert_eq!(rm.rider_location("rd_2").await.unwrap(), None);
        assert!(rm.rider_location("rd_1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_report_replaces_only_the_one_it_was_checked_against() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let first = at("2026-12-02T10:00:00.000Z");
        assert!(
            rm.replace_rider_location("rd_1", &first, None)
                .await
                .unwrap()
        );
        // A second first report lost the race.
        assert!(
            !rm.replace_rider_location("rd_1", &first, None)
                .await
                .unwrap()
        );
        let second = at("2026-12-02T10:00:05.000Z");
        assert!(
            rm.replace_rider_location("rd_1", &second, Some(&first.at))
                .await
                .unwrap()
        );
        // Checked against the first, which is no longer there.
        let third = at("2026-12-02T10:00:06.000Z");
        assert!(
            !rm.replace_rider_location("rd_1", &third, Some(&first.at))
                .await
                .unwrap()
        );
        assert_eq!(rm.rider_location("rd_1").await.unwrap(), Some(second));
    }

    #[tokio::test]
    async fn a_riders_deliveries_on_the_way_come_from_their_index() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        assert!(rm.deliveries_en_route("rd_1").await.unwrap().is_empty());
        let plan = crate::orders::tests::plan(
            &rm,
            "SELECT id, status FROM orders WHERE rider_id = 'rd_1'
               AND status IN ('rider_assigned', 'picked_up') ORDER BY id",
        )
        .await;
        // SQLite: "USING INDEX orders_rider (rider_id=? AND …)"; PostgreSQL: "… using
        // orders_rider on orders" (not the board's orders_rider_board).
        assert!(
            plan.contains("orders_rider (") || plan.contains("orders_rider on"),
            "{plan}"
        );
    }
}
