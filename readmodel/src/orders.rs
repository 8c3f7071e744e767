//! Order views, their event log and their change log: the projection's writes and the api's
//! reads.
//!
//! A projection is one short transaction of its own order's rows and one narrow change-log row
//! (`order_log`): nothing in it is shared with other projections, so projections of different
//! orders commit side by side. Followers find new rows by the writing transaction's id (see
//! `changes.rs`), not by a lock held until commit; they are woken by a `NOTIFY` sent after
//! commit, coalesced per process (see `db.rs`).

use crate::db::ReadModel;
use baedal_domain::OrderView;
use baedal_domain::delivery::{MAX_RADIUS_BONUS_KM, offered_at};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

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

/// An order's view as stored (JSON of [`OrderView`]) and its owners.
#[derive(Debug, Clone)]
pub struct OrderDocument {
    pub customer_id: String,
    pub store_id: String,
    pub json: String,
    /// Whether a rider is on the way (`baedal_domain::eta::en_route` of its status): then the
    /// read carries an arrival estimate.
    pub en_route: bool,
    /// Where its rider last said they were, while a rider is on the way.
    pub rider_location: Option<crate::RiderLocation>,
    /// Whether the view shows a refund owed and not yet confirmed: then the read carries the
    /// refund's attempts and last error (`ReadModel::refund_progress`).
    pub refund_pending: bool,
}

impl OrderDocument {
    /// The stored view, decoded.
    pub fn view(&self) -> crate::Result<OrderView> {
        serde_json::from_str(&self.json).map_err(crate::Error::decode)
    }
}

/// PostgreSQL channel a process notifies, after its projections commit, that the change log
/// grew (at most once per short window, best effort: followers also poll).
pub const CHANGES_CHANNEL: &str = "baedal_order_changes";

pub(crate) fn decode(row: &AnyRow) -> crate::Result<OrderView> {
    let json: String = row.get("view");
    serde_json::from_str(&json).map_err(crate::Error::decode)
}

/// Which stored version an upsert may replace.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guard {
    /// An older one, or the same version with other content (the projection: late or
    /// repeated writes change nothing). The second case repairs a phantom: a projection runs
    /// inside a workflow task, and when the worker dies before completing that task, the
    /// engine redoes the step from durable history, perhaps differently (another rider's
    /// claim, another time), and projects the same version again; the engine's is the truth.
    Newer,
    /// Only the row holding this very view (a rebuild re-deriving a row's columns from its own
    /// view): a projection that landed since wins.
    SameView,
    /// Exactly the version a reconcile saw (`None`: no row), of the same run: the engine's
    /// view replaces a phantom even when the phantom's version is higher, and loses to any
    /// projection that landed since.
    Seen(Option<u32>),
}

/// Write `view` into `orders` and its history into `order_events`, as `guard` allows; answers
/// whether `orders` changed.
pub(crate) async fn upsert(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    view: &OrderView,
    json: &str,
    guard: Guard,
) -> crate::Result<bool> {
    let replaces = match guard {
        // Fenced by run: a view replaces only a view of the same run of the order (the
        // workflow's start time, `created_at`, tells runs of one order id apart), so a second
        // run under a known id can never overwrite, or hide behind, the first one's money.
        Guard::Newer => "orders.created_at = excluded.created_at
             AND (excluded.version > orders.version
                  OR (excluded.version = orders.version AND excluded.view <> orders.view))"
            .to_owned(),
        // Only where a column differs from what the view says: a rebuild of a sound table
        // writes nothing.
        Guard::SameView => "excluded.view = orders.view AND NOT (
                orders.version = excluded.version AND orders.seq = excluded.seq
                AND orders.status = excluded.status AND orders.active = excluded.active
                AND orders.customer_id = excluded.customer_id
                AND orders.store_id = excluded.store_id AND orders.region = excluded.region
                AND (orders.rider_id = excluded.rider_id
                     OR (orders.rider_id IS NULL AND excluded.rider_id IS NULL))
                AND orders.pickup_lat = excluded.pickup_lat
                AND orders.pickup_lon = excluded.pickup_lon
                AND orders.radius_bonus_km = excluded.radius_bonus_km
                AND orders.total = excluded.total AND orders.created_at = excluded.created_at
                AND orders.updated_at = excluded.updated_at)"
            .into(),
        Guard::Seen(Some(v)) => {
            format!("orders.created_at = excluded.created_at AND orders.version = {v}")
        }
        Guard::Seen(None) => "1 = 0".into(),
    };
    // Whatever the guard, a view whose personal data retention erased is never written over
    // (a late projection or a repair would bring the address back): see `retention`.
    let changed = sqlx::query(&format!(
        "INSERT INTO orders (id, version, seq, status, active, customer_id, store_id, region,
            rider_id, pickup_lat, pickup_lon, radius_bonus_km, total, created_at, updated_at, view)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
            status = excluded.status, active = excluded.active, customer_id = excluded.customer_id,
            store_id = excluded.store_id, region = excluded.region, rider_id = excluded.rider_id,
            pickup_lat = excluded.pickup_lat, pickup_lon = excluded.pickup_lon,
            radius_bonus_km = excluded.radius_bonus_km, total = excluded.total,
            created_at = excluded.created_at, updated_at = excluded.updated_at, view = excluded.view
         WHERE ({replaces}) AND {}",
        crate::retention::NOT_ERASED
    ))
    .bind(&view.id)
    .bind(view.version as i64)
    .bind(view.seq as i64)
    .bind(view.status.as_str())
    .bind(!view.status.is_terminal() as i64)
    .bind(&view.customer_id)
    .bind(&view.store_id)
    .bind(&view.region)
    .bind(&view.rider_id)
    .bind(view.pickup.lat)
    .bind(view.pickup.lon)
    .bind(view.search_radius_bonus_km.clamp(0.0, MAX_RADIUS_BONUS_KM))
    .bind(view.total)
    .bind(&view.created_at)
    .bind(&view.updated_at)
    .bind(json)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    // The history goes with the row it belongs to: a view refused here (older, repeated, or
    // another run's) writes no entries either.
    if changed {
        match guard {
            Guard::Newer | Guard::Seen(_) => append_history(tx, view).await?,
            _ => {
                write_history(tx, view).await?;
            }
        }
    }
    Ok(changed)
}

/// An event entry replaces the stored one only where it differs (an unchanged row is not
/// rewritten).
const REPLACE_CHANGED: &str = "DO UPDATE SET status = excluded.status, at = excluded.at,
    reason = excluded.reason
    WHERE order_events.status <> excluded.status OR order_events.at <> excluded.at";

/// `rows` value tuples of `cols` placeholders each, numbered from `$from + 1`: one
/// multi-row `INSERT` however many rows.
pub(crate) fn placeholders(from: usize, rows: usize, cols: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells = (1..=cols)
                .map(|c| format!("${}", from + r * cols + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({cells})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A projection's history write: entries before the view's latest were committed by the
/// engine before it and never change, so they are inserted only where missing (`DO NOTHING`:
/// an entry already there is neither rewritten nor locked); only the latest entry may replace
/// what is stored (a phantom's redo at the same seq). Writing every entry with `DO UPDATE …
/// WHERE changed`, as before, locked each existing entry on every projection (a row lock is a
/// write: a WAL record and a dirtied page), ~28 locks per order. One round trip on PostgreSQL
/// (the inserts as one statement); two on SQLite, which has no data-modifying `WITH`.
async fn append_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    view: &OrderView,
) -> crate::Result<()> {
    let Some(latest) = view.history.iter().map(|h| h.seq).max() else {
        return Ok(());
    };
    let (earlier, last): (Vec<_>, Vec<_>) = view.history.iter().partition(|h| h.seq < latest);
    let insert = |from: usize, n: usize, on_conflict: &str| {
        format!(
            "INSERT INTO order_events (order_id, seq, status, at, reason) VALUES {}
             ON CONFLICT (order_id, seq) {on_conflict}",
            placeholders(from, n, 5)
        )
    };
    const KEEP: &str = "DO NOTHING";
    let (e, l) = (earlier.len(), last.len());
    let statements: Vec<(String, Vec<&baedal_domain::HistoryEntry>)> = if e == 0 {
        vec![(insert(0, l, REPLACE_CHANGED), last)]
    } else if tx.backend_name() == "PostgreSQL" {
        let both = format!(
            "WITH earlier AS ({}) {}",
            insert(0, e, KEEP),
            insert(e * 5, l, REPLACE_CHANGED)
        );
        vec![(both, earlier.into_iter().chain(last).collect())]
    } else {
        vec![
            (insert(0, e, KEEP), earlier),
            (insert(0, l, REPLACE_CHANGED), last),
        ]
    };
    for (sql, entries) in statements {
        let mut q = sqlx::query(&sql);
        for h in entries {
            q = q
                .bind(&view.id)
                .bind(h.seq as i64)
                .bind(h.status.as_str())
                .bind(&h.at)
                .bind(&h.reason);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Write `view`'s history entries into `order_events` where they are missing or differ;
/// answers how many rows were written. All entries in one statement: a projection costs the
/// same few statements however long the order's history is.
pub(crate) async fn write_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    view: &OrderView,
) -> crate::Result<u64> {
    let mut written = 0;
    if !view.history.is_empty() {
        let rows = placeholders(0, view.history.len(), 5);
        let sql = format!(
            "INSERT INTO order_events (order_id, seq, status, at, reason) VALUES {rows}
             ON CONFLICT (order_id, seq) {REPLACE_CHANGED}"
        );
        let mut q = sqlx::query(&sql);
        for h in &view.history {
            q = q
                .bind(&view.id)
                .bind(h.seq as i64)
                .bind(h.status.as_str())
                .bind(&h.at)
                .bind(&h.reason);
        }
        written = q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(written)
}

/// Log `new` views (each a new version of its order, or a phantom's replacement at the same
/// version: a new row, so followers deliver it) in the change log, inside the writer's
/// transaction: one narrow row each, in one statement. The row's `xid` is the writer's
/// transaction id (the column's default) and `logged_at` the database's clock.
async fn append_log(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    new: &[&OrderView],
) -> crate::Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let rows = placeholders(0, new.len(), 5);
    let sql =
        format!("INSERT INTO order_log (order_id, version, seq, status, store_id) VALUES {rows}");
    let mut q = sqlx::query(&sql);
    for view in new {
        q = q
            .bind(&view.id)
            .bind(view.version as i64)
            .bind(view.seq as i64)
            .bind(view.status.as_str())
            .bind(&view.store_id);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

impl ReadModel {
    /// Store `view` as the order's current state unless a view with the same or a higher
    /// `version` is already there, record its history entries in the event log, and append it
    /// to the change log when it is new. Returns whether the current view changed. Safe to call
    /// any number of times, in any order.
    pub async fn project(&self, view: &OrderView) -> crate::Result<bool> {
        Ok(self.project_many(std::slice::from_ref(view)).await?[0])
    }

    /// Whether the stored order `view.id` belongs to another run of that order id than `view`
    /// (another `created_at`): then [`Self::project`] refuses `view` whatever its version,
    /// and the projection must say so rather than count the write as done.
    pub async fn held_by_other_run(&self, view: &OrderView) -> crate::Result<bool> {
        let row = sqlx::query("SELECT created_at FROM orders WHERE id = $1")
            .bind(&view.id)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some_and(|r| r.get::<String, _>("created_at") != view.created_at))
    }

    /// [`Self::project`] for many views in one transaction (bulk loads, synthetic seeding):
    /// answers, for each, whether the current view changed.
    pub async fn project_many(&self, views: &[OrderView]) -> crate::Result<Vec<bool>> {
        let mut tx = self.pool().begin().await?;
        let mut changed = Vec::with_capacity(views.len());
        let mut new = Vec::new();
        for view in views {
            let json = serde_json::to_string(view).map_err(crate::Error::encode)?;
            let c = upsert(&mut tx, view, &json, Guard::Newer).await?;
            changed.push(c);
            if c {
                new.push(view);
            }
        }
        append_log(&mut tx, &new).await?;
        tx.commit().await?;
        if !new.is_empty() {
            self.committed();
        }
        Ok(changed)
    }

    /// Replace what the read model holds for `engine.id` with the engine's view, provided it
    /// still holds `seen` (the version a reconcile compared; `None`: no row) of the same run.
    /// The phantom's history entries go, and the engine's view takes a new position in the log,
    /// so followers deliver it (the phantom's rows stay, but a row shows the order's current
    /// view and one of a version the order is no longer at is skipped). Answers whether anything was replaced (`false`: a projection landed since,
    /// compare again).
    pub async fn repair(&self, engine: &OrderView, seen: Option<u32>) -> crate::Result<bool> {
        let json = serde_json::to_string(engine).map_err(crate::Error::encode)?;
        let mut tx = self.pool().begin().await?;
        if !upsert(&mut tx, engine, &json, Guard::Seen(seen)).await? {
            return Ok(false);
        }
        sqlx::query("DELETE FROM order_events WHERE order_id = $1 AND seq > $2")
            .bind(&engine.id)
            .bind(engine.seq as i64)
            .execute(&mut *tx)
            .await?;
        append_log(&mut tx, &[engine]).await?;
        tx.commit().await?;
        self.committed();
        Ok(true)
    }

    /// The order's stored view as JSON text, with who may see it: the status read's hot path
    /// answers the text as stored, without decoding and encoding it again.
    pub async fn order_document(&self, id: &str) -> crate::Result<Option<OrderDocument>> {
        let row = self
            .db
            .fetch_optional_hot(|| {
                sqlx::query("SELECT customer_id, store_id, status, rider_id, view FROM orders WHERE id = $1")
                    .bind(id)
            })
            .await?;
        let Some(r) = row else { return Ok(None) };
        let rider: Option<String> = r.get("rider_id");
        // Only an order with a rider on the way reads the rider's position: a second lookup
        // for those few, rather than a join that every status read would pay for.
        let en_route = r
            .get::<String, _>("status")
            .parse()
            .is_ok_and(baedal_domain::eta::en_route);
        let rider_location = match rider.filter(|_| en_route) {
            Some(rider) => self.rider_location(&rider).await?,
            None => None,
        };
        let json: String = r.get("view");
        // Only a closed order that owed a refund can show one pending; the text is searched
        // only for those (the view's serializer writes `"status":"pending"` without spaces).
        let refund_pending = !en_route
            && matches!(
                r.get::<String, _>("status").as_str(),
                "canceled" | "rejected"
            )
            && json.contains(r#""refund":{"status":"pending""#);
        Ok(Some(OrderDocument {
            customer_id: r.get("customer_id"),
            store_id: r.get("store_id"),
            json,
            en_route,
            rider_location,
            refund_pending,
        }))
    }

    pub async fn get_order(&self, id: &str) -> crate::Result<Option<OrderView>> {
        let row = sqlx::query("SELECT view FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Deliveries waiting for a rider whose pickup is within `radius_km` of the rider (plus
    /// the order's own widened-search bonus), nearest first, at most `limit`; `region` narrows
    /// to deliveries going to that district. Served by the `orders_rider_board` partial index
    /// (a bounding box on the pickup's coordinates); ordering and the limit are applied in the
    /// query, so only the rows answered are decoded.
    pub async fn ready_deliveries_near(
        &self,
        lat: f64,
        lon: f64,
        radius_km: f64,
        region: Option<&str>,
        limit: usize,
    ) -> crate::Result<Vec<DeliveryOffer>> {
        // Kilometres per degree: of latitude everywhere, of longitude at the rider's latitude.
        // An equirectangular distance, exact enough over tens of kilometres to order and cut;
        // the answered distance is the great-circle one.
        const KM_PER_DEG: f64 = 111.195;
        let km_per_deg_lon = KM_PER_DEG * lat.to_radians().cos().max(0.01);
        let reach = radius_km + MAX_RADIUS_BONUS_KM;
        let (dlat, dlon) = (reach / KM_PER_DEG, reach / km_per_deg_lon);
        let d2 = "((pickup_lat - $1) * $3) * ((pickup_lat - $1) * $3)
                  + ((pickup_lon - $2) * $4) * ((pickup_lon - $2) * $4)";
        // The inner query runs on the covering partial index alone (no row is read for a
        // candidate); only the `limit` rows it keeps are fetched with their views.
        let rows = sqlx::query(&format!(
            "SELECT o.view FROM orders o JOIN (
                SELECT id, {d2} AS d2 FROM orders
                 WHERE status = 'ready_for_pickup' AND rider_id IS NULL
                   AND pickup_lat BETWEEN $5 AND $6 AND pickup_lon BETWEEN $7 AND $8
                   AND ($9 IS NULL OR region = $9)
                   AND {d2} <= ($10 + radius_bonus_km) * ($10 + radius_bonus_km)
                 ORDER BY d2, id LIMIT $11
             ) near ON o.id = near.id
             ORDER BY near.d2, near.id"
        ))
        .bind(lat)
        .bind(lon)
        .bind(KM_PER_DEG)
        .bind(km_per_deg_lon)
        .bind(lat - dlat)
        .bind(lat + dlat)
        .bind(lon - dlon)
        .bind(lon + dlon)
        .bind(region)
        .bind(radius_km)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        let mut offers = Vec::with_capacity(rows.len());
        for row in &rows {
            let order = decode(row)?;
            // The flat-earth cut and the great circle can disagree by metres at the edge:
            // the query decided; this is only the distance to show.
            let distance_km = offered_at(&order, lat, lon, f64::INFINITY).unwrap_or(0.0);
            offers.push(DeliveryOffer { order, distance_km });
        }
        offers.sort_by(|a, b| a.distance_km.total_cmp(&b.distance_km));
        Ok(offers)
    }

    pub async fn order_events(&self, order_id: &str) -> crate::Result<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT order_id, seq, status, at, reason FROM order_events WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(self.pool())
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
    use baedal_db::Dialect;
    use baedal_domain::OrderStatus;
    use baedal_domain::{DeliveryAddress, HistoryEntry, PaymentInfo, Pickup};

    /// How the database would run `sql` (PostgreSQL told to prefer indexes, as it would on
    /// a big table rather than the test's few rows).
    pub(crate) async fn plan(rm: &ReadModel, sql: &str) -> String {
        let mut tx = rm.pool().begin().await.unwrap();
        let rows = match rm.dialect() {
            Dialect::Sqlite => sqlx::query(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&mut *tx)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get::<String, _>("detail"))
                .collect::<Vec<_>>(),
            Dialect::Postgres => {
                sqlx::query("SET LOCAL enable_seqscan = off")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                sqlx::query(&format!("EXPLAIN {sql}"))
                    .fetch_all(&mut *tx)
                    .await
                    .unwrap()
                    .iter()
                    .map(|r| r.get::<String, _>(0))
                    .collect()
            }
        };
        rows.join("\n")
    }

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
            personal_data_erased_at: None,
        }
    }

    #[tokio::test]
    async fn a_second_run_of_an_order_id_never_replaces_the_first_and_is_told_so() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let done = view("o1", 8, OrderStatus::Completed, 37.5);
        assert!(rm.project(&done).await.unwrap());
        let mut again = view("o1", 1, OrderStatus::Placed, 37.5);
        again.created_at = "2026-02-01T00:00:00Z".into();
        assert!(!rm.project(&again).await.unwrap());
        again.version = 99;
        assert!(
            !rm.project(&again).await.unwrap(),
            "not even with a higher version"
        );
        assert!(rm.held_by_other_run(&again).await.unwrap());
        assert!(!rm.held_by_other_run(&done).await.unwrap());
        let stored = rm.get_order("o1").await.unwrap().unwrap();
        assert_eq!(stored.status, OrderStatus::Completed);
        // Nor does its history leak into the first run's.
        let events = rm.order_events("o1").await.unwrap();
        assert_eq!(events.len(), 8);
        assert!(events.iter().all(|e| e.status == "completed"));
    }

    #[tokio::test]
    async fn late_and_duplicate_projections_change_nothing() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
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

    /// A projection writes only its new entry: the ones the engine committed before are
    /// neither rewritten nor locked (a lock is a write too: PostgreSQL marks the row's `xmax`).
    #[tokio::test]
    async fn a_projection_leaves_the_entries_already_stored_untouched() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        for seq in 1..=3 {
            rm.project(&view("o9", seq, OrderStatus::Cooking, 37.5))
                .await
                .unwrap();
        }
        let touched = |rm: ReadModel| async move {
            match rm.dialect() {
                Dialect::Postgres => sqlx::query(
                    "SELECT COUNT(*) FROM order_events
                         WHERE order_id = 'o9' AND xmax::text <> '0'",
                )
                .fetch_one(rm.pool())
                .await
                .unwrap()
                .get::<i64, _>(0),
                Dialect::Sqlite => 0,
            }
        };
        assert_eq!(touched(rm.clone()).await, 0);
        assert!(
            rm.project(&view("o9", 4, OrderStatus::ReadyForPickup, 37.5))
                .await
                .unwrap()
        );
        assert_eq!(touched(rm.clone()).await, 0, "no entry locked or rewritten");
        let events = rm.order_events("o9").await.unwrap();
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        // An entry a lost projection never wrote is filled in by the next one.
        sqlx::query("DELETE FROM order_events WHERE order_id = 'o9' AND seq = 2")
            .execute(rm.pool())
            .await
            .unwrap();
        rm.project(&view("o9", 5, OrderStatus::ReadyForPickup, 37.5))
            .await
            .unwrap();
        assert_eq!(rm.order_events("o9").await.unwrap().len(), 5);
    }

    #[tokio::test]
    async fn the_engines_redo_of_a_lost_step_replaces_its_phantom() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.project(&view("o2", 3, OrderStatus::ReadyForPickup, 37.5))
            .await
            .unwrap();
        // Rider A's claim was projected by a workflow task that never completed (its worker
        // died); the engine redid the step from durable history as rider B's claim, at the
        // same version.
        let mut phantom = view("o2", 4, OrderStatus::RiderAssigned, 37.5);
        phantom.rider_id = Some("rider-a".into());
        let mut truth = phantom.clone();
        truth.rider_id = Some("rider-b".into());
        truth.history[3].at = "2026-01-01T00:00:09Z".into();
        truth.updated_at = "2026-01-01T00:00:09Z".into();
        assert!(rm.project(&phantom).await.unwrap());
        assert!(rm.project(&truth).await.unwrap(), "the truth replaces it");
        let got = rm.get_order("o2").await.unwrap().unwrap();
        assert_eq!(got.rider_id.as_deref(), Some("rider-b"));
        let events = rm.order_events("o2").await.unwrap();
        assert_eq!(events.len(), 4);
        assert_eq!(events[3].at, "2026-01-01T00:00:09Z");
        // The truth takes a new position in the change log, so a follower that delivered the
        // phantom delivers the truth after it; every row shows the order as it is now.
        crate::changes::tests::settled(&rm).await;
        let log = rm
            .changes_after(crate::LogCursor::START, crate::Changes::Store("st_1"), 100)
            .await
            .unwrap()
            .changes;
        let versions: Vec<_> = log.iter().map(|c| (c.version, c.is_current())).collect();
        assert_eq!(versions, [(3, false), (4, true), (4, true)]);
        assert!(log.windows(2).all(|w| w[0].pos < w[1].pos));
        assert!(
            log.iter()
                .all(|c| c.order.rider_id.as_deref() == Some("rider-b"))
        );
        // The truth again, or the phantom's late retry of an older version: nothing changes.
        assert!(!rm.project(&truth).await.unwrap());
        assert!(
            !rm.project(&view("o2", 3, OrderStatus::ReadyForPickup, 37.5))
                .await
                .unwrap()
        );
        assert_eq!(
            rm.get_order("o2")
                .await
                .unwrap()
                .unwrap()
                .rider_id
                .as_deref(),
            Some("rider-b")
        );
    }

    #[tokio::test]
    async fn a_repair_puts_back_the_engines_version_and_the_workflow_goes_on_from_it() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let truth = view("o3", 3, OrderStatus::Cooking, 37.5);
        rm.project(&truth).await.unwrap();
        // A step the engine never committed, and nothing redone since: the read model is ahead.
        let phantom = view("o3", 4, OrderStatus::ReadyForPickup, 37.5);
        rm.project(&phantom).await.unwrap();
        // A repair that compared an older state finds a projection landed since: no change.
        assert!(!rm.repair(&truth, Some(3)).await.unwrap());
        assert!(rm.repair(&truth, Some(4)).await.unwrap());
        let got = rm.get_order("o3").await.unwrap().unwrap();
        assert_eq!((got.version, got.status), (3, OrderStatus::Cooking));
        assert_eq!(rm.order_events("o3").await.unwrap().len(), 3);
        // The engine's view takes a new position in the log; the phantom's row (a version the
        // order is no longer at) is skipped by streams, the new one shows the engine's view.
        crate::changes::tests::settled(&rm).await;
        let log = rm
            .changes_after(crate::LogCursor::START, crate::Changes::Store("st_1"), 100)
            .await
            .unwrap()
            .changes;
        let rows: Vec<_> = log
            .iter()
            .map(|c| (c.version, c.status, c.is_current()))
            .collect();
        assert_eq!(
            rows,
            [
                (3, OrderStatus::Cooking, true),
                (4, OrderStatus::ReadyForPickup, false),
                (3, OrderStatus::Cooking, true),
            ]
        );
        // The workflow's own next change (the same version number) is taken as usual.
        let next = view("o3", 4, OrderStatus::Canceled, 37.5);
        assert!(rm.project(&next).await.unwrap());
        assert_eq!(
            rm.get_order("o3").await.unwrap().unwrap().status,
            OrderStatus::Canceled
        );
        // An order the read model never got is written; a repair never crosses runs.
        let missing = view("o4", 2, OrderStatus::Accepted, 37.5);
        assert!(rm.repair(&missing, None).await.unwrap());
        assert!(!rm.repair(&missing, None).await.unwrap());
        let mut other_run = view("o4", 1, OrderStatus::Placed, 37.5);
        other_run.created_at = "another start".into();
        assert!(!rm.repair(&other_run, Some(2)).await.unwrap());
    }

    #[tokio::test]
    async fn rider_board_is_nearest_first_within_radius() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
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

    #[tokio::test]
    async fn the_rider_board_cuts_by_index_and_limit_and_reaches_widened_searches() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        // Ten deliveries 1..10 km north of the rider, and one claimed right beside them.
        for km in 1..=10 {
            let lat = 37.498 + km as f64 / 111.195;
            rm.project(&view(
                &format!("d{km:02}"),
                1,
                OrderStatus::ReadyForPickup,
                lat,
            ))
            .await
            .unwrap();
        }
        let mut claimed = view("claimed", 1, OrderStatus::ReadyForPickup, 37.4985);
        claimed.rider_id = Some("r9".into());
        rm.project(&claimed).await.unwrap();
        let board = rm
            .ready_deliveries_near(37.498, 127.0276, 5.5, None, 3)
            .await
            .unwrap();
        let ids: Vec<_> = board.iter().map(|o| o.order.id.as_str()).collect();
        assert_eq!(
            ids,
            ["d01", "d02", "d03"],
            "nearest first, limit in the query"
        );
        assert!(
            (board[0].distance_km - 1.0).abs() < 0.01,
            "{}",
            board[0].distance_km
        );
        assert_eq!(
            rm.ready_deliveries_near(37.498, 127.0276, 5.5, None, 100)
                .await
                .unwrap()
                .len(),
            5
        );
        // An order nobody took widens its search: 8 km away reaches a 5.5 km rider once its
        // bonus covers the difference.
        let mut wide = view(
            "d08",
            2,
            OrderStatus::ReadyForPickup,
            37.498 + 8.0 / 111.195,
        );
        wide.search_radius_bonus_km = 4.0;
        rm.project(&wide).await.unwrap();
        let ids: Vec<String> = rm
            .ready_deliveries_near(37.498, 127.0276, 5.5, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.order.id)
            .collect();
        assert_eq!(ids, ["d01", "d02", "d03", "d04", "d05", "d08"]);

        let plan = plan(
            &rm,
            "SELECT id FROM orders WHERE status = 'ready_for_pickup' AND rider_id IS NULL
               AND pickup_lat BETWEEN 37.3 AND 37.6 AND pickup_lon BETWEEN 126.9 AND 127.1
               AND region = 'gangnam' AND radius_bonus_km < 5
             ORDER BY pickup_lat LIMIT 10",
        )
        .await;
        assert!(plan.contains("orders_rider_board"), "{plan}");
        if rm.dialect() == Dialect::Sqlite {
            assert!(plan.contains("COVERING INDEX orders_rider_board"), "{plan}");
        }
    }
}
