//! Order views and their event log: the projection's writes and the api's reads.

use crate::db::ReadModel;
use baedal_domain::{OrderStatus, OrderView, geo};
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// One row of an order's event log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderEvent {
    pub order_id: String,
    pub seq: u32,
    pub status: String,
    pub at: String,
    pub reason: Option<String>,
}

/// A delivery offered on the rider board, with how far its pickup is from the rider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryOffer {
    pub order: OrderView,
    pub distance_km: f64,
}

fn decode(row: &sqlx::sqlite::SqliteRow) -> crate::Result<OrderView> {
    let json: String = row.get("view");
    serde_json::from_str(&json).map_err(crate::Error::decode)
}

impl ReadModel {
    /// Store `view` as the order's current state unless a view with the same or a higher
    /// `version` is already there, and record its history entries in the event log. Returns whether the
    /// current view changed. Safe to call any number of times, in any order.
    pub async fn project(&self, view: &OrderView) -> crate::Result<bool> {
        let json = serde_json::to_string(view).map_err(crate::Error::encode)?;
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "INSERT INTO orders (id, version, seq, status, customer_id, store_id, region, rider_id,
                pickup_lat, pickup_lon, radius_bonus_km, total, created_at, updated_at, view)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
                status = excluded.status, rider_id = excluded.rider_id,
                radius_bonus_km = excluded.radius_bonus_km, updated_at = excluded.updated_at,
                view = excluded.view
             WHERE excluded.version > orders.version",
        )
        .bind(&view.id)
        .bind(view.version as i64)
        .bind(view.seq as i64)
        .bind(view.status.as_str())
        .bind(&view.customer_id)
        .bind(&view.store_id)
        .bind(&view.region)
        .bind(&view.rider_id)
        .bind(view.pickup.lat)
        .bind(view.pickup.lon)
        .bind(view.search_radius_bonus_km)
        .bind(view.total)
        .bind(&view.created_at)
        .bind(&view.updated_at)
        .bind(&json)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        for h in &view.history {
            sqlx::query(
                "INSERT INTO order_events (order_id, seq, status, at, reason) VALUES (?, ?, ?, ?, ?)
                 ON CONFLICT (order_id, seq) DO NOTHING",
            )
            .bind(&view.id)
            .bind(h.seq as i64)
            .bind(h.status.as_str())
            .bind(&h.at)
            .bind(&h.reason)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    pub async fn get_order(&self, id: &str) -> crate::Result<Option<OrderView>> {
        let row = sqlx::query("SELECT view FROM orders WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// A customer's own orders, newest first.
    pub async fn customer_orders(
        &self,
        customer_id: &str,
        limit: u32,
    ) -> crate::Result<Vec<OrderView>> {
        let rows = sqlx::query(
            "SELECT view FROM orders WHERE customer_id = ? ORDER BY created_at DESC, id LIMIT ?",
        )
        .bind(customer_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// A store's orders, optionally in one status, oldest first (the kitchen's queue order).
    pub async fn store_orders(
        &self,
        store_id: &str,
        status: Option<OrderStatus>,
        limit: u32,
    ) -> crate::Result<Vec<OrderView>> {
        let rows = match status {
            Some(st) => sqlx::query(
                "SELECT view FROM orders WHERE store_id = ? AND status = ?
                 ORDER BY created_at, id LIMIT ?",
            )
            .bind(store_id)
            .bind(st.as_str())
            .bind(limit as i64),
            None => sqlx::query(
                "SELECT view FROM orders WHERE store_id = ? ORDER BY created_at, id LIMIT ?",
            )
            .bind(store_id)
            .bind(limit as i64),
        }
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// Deliveries ready for pickup whose pickup is within `radius_km` of the rider (plus the
    /// order's own widened-search bonus), nearest first; `region` narrows to deliveries going
    /// to that district.
    pub async fn ready_deliveries_near(
        &self,
        lat: f64,
        lon: f64,
        radius_km: f64,
        region: Option<&str>,
        limit: usize,
    ) -> crate::Result<Vec<DeliveryOffer>> {
        // A bounding box in SQL (1° of latitude ≈ 111 km) cuts the candidates; the exact
        // distance is computed below. Bonus radii are bounded by MAX_BONUS_KM.
        const MAX_BONUS_KM: f64 = 10.0;
        let reach = radius_km + MAX_BONUS_KM;
        let dlat = reach / 111.0;
        let dlon = reach / (111.0 * lat.to_radians().cos().max(0.01));
        let rows = sqlx::query(
            "SELECT view FROM orders WHERE status = 'ready_for_pickup'
               AND pickup_lat BETWEEN ? AND ? AND pickup_lon BETWEEN ? AND ?
               AND (? IS NULL OR region = ?)",
        )
        .bind(lat - dlat)
        .bind(lat + dlat)
        .bind(lon - dlon)
        .bind(lon + dlon)
        .bind(region)
        .bind(region)
        .fetch_all(&self.pool)
        .await?;
        let mut offers = Vec::new();
        for row in &rows {
            let order = decode(row)?;
            let d = geo::distance_km(lat, lon, order.pickup.lat, order.pickup.lon);
            if d <= radius_km + order.search_radius_bonus_km.min(MAX_BONUS_KM) {
                offers.push(DeliveryOffer {
                    order,
                    distance_km: (d * 1000.0).round() / 1000.0,
                });
            }
        }
        offers.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        offers.truncate(limit);
        Ok(offers)
    }

    pub async fn order_events(&self, order_id: &str) -> crate::Result<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT order_id, seq, status, at, reason FROM order_events WHERE order_id = ? ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OrderEvent {
                order_id: r.get("order_id"),
                seq: r.get::<i64, _>("seq") as u32,
                status: r.get("status"),
                at: r.get("at"),
                reason: r.get("reason"),
            })
            .collect())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use baedal_domain::{DeliveryAddress, HistoryEntry, PaymentInfo, Pickup};

    pub(crate) fn view(id: &str, seq: u32, status: OrderStatus, lat: f64) -> OrderView {
        OrderView {
            id: id.into(),
            status,
            customer_id: "c1".into(),
            store_id: "st_1".into(),
            store_name: "s".into(),
            region: "gangnam".into(),
            items: vec![],
            total: 5000,
            delivery: DeliveryAddress {
                address: "a".into(),
                region: "gangnam".into(),
                lat: 37.5,
                lon: 127.0,
            },
            pickup: Pickup {
                store_name: "s".into(),
                lat,
                lon: 127.0276,
            },
            payment: PaymentInfo {
                id: "p".into(),
                status: "succeeded".into(),
                amount: 5000,
            },
            refund: None,
            rider_id: None,
            history: (1..=seq)
                .map(|s| HistoryEntry {
                    seq: s,
                    status,
                    at: format!("2026-01-01T00:00:0{s}Z"),
                    reason: None,
                })
                .collect(),
            created_at: "2026-01-01T00:00:00Z".into(),
            updated_at: format!("2026-01-01T00:00:0{seq}Z"),
            seq,
            version: seq,
            search_radius_bonus_km: 0.0,
        }
    }

    #[tokio::test]
    async fn late_and_duplicate_projections_change_nothing() {
        let rm = ReadModel::open("sqlite::memory:").await.unwrap();
        assert!(
            rm.project(&view("o1", 2, OrderStatus::Accepted, 37.5))
                .await
                .unwrap()
        );
        // Same seq again, and an older one arriving late: both ignored.
        assert!(
            !rm.project(&view("o1", 2, OrderStatus::Accepted, 37.5))
                .await
                .unwrap()
        );
        assert!(
            !rm.project(&view("o1", 1, OrderStatus::Placed, 37.5))
                .await
                .unwrap()
        );
        let got = rm.get_order("o1").await.unwrap().unwrap();
        assert_eq!((got.seq, got.status), (2, OrderStatus::Accepted));
        assert_eq!(rm.order_events("o1").await.unwrap().len(), 2);
        assert!(
            rm.project(&view("o1", 3, OrderStatus::Cooking, 37.5))
                .await
                .unwrap()
        );
        assert_eq!(
            rm.get_order("o1").await.unwrap().unwrap().status,
            OrderStatus::Cooking
        );
    }

    #[tokio::test]
    async fn rider_board_is_nearest_first_within_radius() {
        let rm = ReadModel::open("sqlite::memory:").await.unwrap();
        // ~0.1 km, ~2.2 km and ~11 km north of the rider.
        rm.project(&view("far", 1, OrderStatus::ReadyForPickup, 37.598))
            .await
            .unwrap();
        rm.project(&view("mid", 1, OrderStatus::ReadyForPickup, 37.518))
            .await
            .unwrap();
        rm.project(&view("near", 1, OrderStatus::ReadyForPickup, 37.499))
            .await
            .unwrap();
        rm.project(&view("cooking", 1, OrderStatus::Cooking, 37.498))
            .await
            .unwrap();
        let board = rm
            .ready_deliveries_near(37.498, 127.0276, 3.0, None, 50)
            .await
            .unwrap();
        let ids: Vec<_> = board.iter().map(|o| o.order.id.as_str()).collect();
        assert_eq!(ids, vec!["near", "mid"]);
        let other_region = rm
            .ready_deliveries_near(37.498, 127.0276, 3.0, Some("mapo"), 50)
            .await
            .unwrap();
        assert!(other_region.is_empty());
    }
}
