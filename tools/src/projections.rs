//! `baedal-bench projections`: how many projections per second the read model commits on
//! PostgreSQL with many writers at once (issue 20, part 1), for three paths measured in the
//! same run, one after the other, each on a fresh database:
//!
//! - `shipped`: the statements `ReadModel::project` ran when issue 20 was filed (commit
//!   `ba4555a`), frozen here as the "before" reference (see [`shipped`]);
//! - `lockfree`: the same without the advisory lock and without `pg_notify`: the ceiling the
//!   issue compares with;
//! - `current`: `ReadModel::project` of the build this binary was compiled from: the "after".
//!
//! Each writer projects successive versions of its own orders (a handful in flight per
//! writer, so rows and index pages are spread as in a city's traffic), each version a view of
//! about the size a real lifecycle's view has (~1–2 KB of JSON, its history growing with each
//! version), eight versions per order and then a new order. A projection is timed from
//! `BEGIN` to the end of `COMMIT`, client side. `--delay` puts a [`crate::delay_proxy`]
//! between the writers and PostgreSQL, as a database across the network adds.
//!
//! Numbers only mean something with durability on (`scripts/with-postgres` with
//! `BAEDAL_PG_DURABLE=1`: `fsync`, `synchronous_commit`, `full_page_writes` on): then each
//! commit waits for its WAL flush, and a lock held through the commit serialises those waits.
//! The report says which settings the server ran with.

use crate::delay_proxy;
use crate::loadgen::{histogram, ms};
use baedal_db::PoolSettings;
use baedal_domain::delivery::MAX_RADIUS_BONUS_KM;
use baedal_domain::{
    DeliveryAddress, HistoryEntry, LineItem, OrderStatus as S, OrderView, PaymentInfo, Pickup,
};
use baedal_readmodel::ReadModel;
use hdrhistogram::Histogram;
use serde::Serialize;
use sqlx::{AnyPool, Connection, Executor, Row};
use std::fmt;
use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

/// Which write path a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Path {
    /// The shipped statements (commit `ba4555a`), frozen in tools/src/projections.rs.
    Shipped,
    /// The shipped statements without the advisory lock and without `pg_notify`.
    Lockfree,
    /// `ReadModel::project` of this build.
    Current,
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Path::Shipped => "shipped",
            Path::Lockfree => "lockfree",
            Path::Current => "current",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// A superuser's URL (any database; `scripts/with-postgres`'s `$BAEDAL_TEST_POSTGRES_URL`):
    /// each run creates a database of its own next to it, and drops it afterwards.
    pub database_url: String,
    pub writers: Vec<usize>,
    pub paths: Vec<Path>,
    pub duration: Duration,
    /// Run before each measured period, not counted (pools filled, caches warm).
    pub warmup: Duration,
    /// Orders in flight per writer.
    pub orders_per_writer: usize,
    /// Added to every round trip between the writers and PostgreSQL (`None`: the direct socket).
    pub delay: Option<Duration>,
    /// Keep each run's database (to look at it afterwards).
    pub keep: bool,
}

/// One path at one writer count.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub path: Path,
    pub writers: usize,
    pub projections: u64,
    pub projections_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// The machine's 1-minute load average as the run ends (`/proc/loadavg`): on a machine
    /// shared with builds, a run taken beside one is not comparable with the others.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_1m: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub bench: &'static str,
    pub server: String,
    pub fsync: String,
    pub synchronous_commit: String,
    pub full_page_writes: String,
    /// What `--delay` asked for, added per round trip (0: the direct socket).
    pub delay_ms: f64,
    /// `SELECT 1` one at a time over the path the writers use, p50: the round trip as measured.
    pub round_trip_p50_ms: f64,
    pub duration_secs: f64,
    pub orders_per_writer: usize,
    /// Mean size of the view JSON projected.
    pub view_bytes_mean: usize,
    pub runs: Vec<RunReport>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} (fsync={}, synchronous_commit={}, full_page_writes={}); delay {} ms per round trip (measured SELECT 1 p50 {} ms); {:.0} s per run; views {} bytes on average",
            self.server,
            self.fsync,
            self.synchronous_commit,
            self.full_page_writes,
            self.delay_ms,
            self.round_trip_p50_ms,
            self.duration_secs,
            self.view_bytes_mean
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "| path | writers | delay ms | projections/s | p50 ms | p99 ms | errors | load (1 min) |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|---|---|")?;
        for r in &self.runs {
            writeln!(
                f,
                "| {} | {} | {} | {:.0} | {} | {} | {} | {} |",
                r.path,
                r.writers,
                self.delay_ms,
                r.projections_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.errors,
                r.load_1m.map(|l| l.to_string()).unwrap_or_default()
            )?;
        }
        for r in &self.runs {
            if let Some(e) = &r.first_error {
                writeln!(f, "{} at {} writers, first error: {e}", r.path, r.writers)?;
            }
        }
        Ok(())
    }
}

pub async fn run(opts: Options) -> anyhow::Result<Report> {
    sqlx::any::install_default_drivers();
    let admin_url = reqwest::Url::parse(&opts.database_url)?;
    anyhow::ensure!(
        matches!(admin_url.scheme(), "postgres" | "postgresql"),
        "projections measures PostgreSQL: give a postgres:// URL (scripts/with-postgres's $BAEDAL_TEST_POSTGRES_URL)"
    );
    let admin = baedal_db::connect(&opts.database_url, pool(2)).await?.pool;
    let show = |name: &'static str| {
        let admin = admin.clone();
        async move {
            let row = sqlx::query(&format!("SHOW {name}"))
                .fetch_one(&admin)
                .await?;
            anyhow::Ok(row.get::<String, _>(0))
        }
    };
    let server = show("server_version").await?;
    let (fsync, synchronous_commit, full_page_writes) = (
        show("fsync").await?,
        show("synchronous_commit").await?,
        show("full_page_writes").await?,
    );

    // Where the writers connect: PostgreSQL itself, or the proxy in front of it.
    let host = admin_url.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = admin_url.port().unwrap_or(5432);
    let via = match opts.delay {
        Some(delay) if !delay.is_zero() => {
            let upstream = (host.as_str(), port)
                .to_socket_addrs()?
                .next()
                .ok_or_else(|| anyhow::anyhow!("cannot resolve {host}:{port}"))?;
            let proxy = delay_proxy::start("127.0.0.1:0", upstream, delay)?;
            Some(proxy.addr)
        }
        _ => None,
    };
    let url_of = |db: &str, through_proxy: bool| -> anyhow::Result<String> {
        let mut u = admin_url.clone();
        u.set_path(&format!("/{db}"));
        if let (true, Some(addr)) = (through_proxy, via) {
            u.set_host(Some(&addr.ip().to_string()))?;
            u.set_port(Some(addr.port()))
                .map_err(|()| anyhow::anyhow!("cannot set the proxy's port"))?;
        }
        Ok(u.to_string())
    };
    let admin_db = admin_url.path().trim_start_matches('/').to_owned();
    // On one connection, not through a pool: sqlx's pool pings a connection when it is given
    // back (one more round trip before it can be handed out again), which would double it.
    let round_trip = {
        let mut probe = sqlx::AnyConnection::connect(&url_of(&admin_db, true)?).await?;
        let mut h = histogram();
        for _ in 0..300 {
            let t = Instant::now();
            sqlx::query("SELECT 1").execute(&mut probe).await?;
            let _ = h.record(t.elapsed().as_micros().max(1) as u64);
        }
        probe.close().await?;
        h.value_at_quantile(0.5) as f64 / 1000.0
    };

    let mut runs = Vec::new();
    let mut view_bytes = (0usize, 0usize);
    let tag = std::process::id();
    for &writers in &opts.writers {
        for (i, &path) in opts.paths.iter().enumerate() {
            // A path may be listed twice (to see the drift within a run): one database each.
            let db = format!("bench_projections_{tag}_{i}_{path}_{writers}");
            admin
                .execute(format!("CREATE DATABASE {db}").as_str())
                .await?;
            // The read model's schema, by its own migrations (applied directly, not through
            // the proxy).
            ReadModel::open(&url_of(&db, false)?).await?;
            // Each run starts from a checkpoint: the full-page images written after one are
            // then the same for every path.
            admin.execute("CHECKPOINT").await?;
            let url = url_of(&db, true)?;
            let writer = match path {
                Path::Current => Writer::Current(ReadModel::open_with(&url, writers as u32).await?),
                Path::Shipped | Path::Lockfree => Writer::Frozen {
                    pool: baedal_db::connect(&url, pool(writers as u32)).await?.pool,
                    lock_and_notify: path == Path::Shipped,
                },
            };
            eprintln!(
                "projections: {path} with {writers} writers{} ...",
                opts.delay
                    .filter(|d| !d.is_zero())
                    .map(|d| format!(", {d:?} added per round trip"))
                    .unwrap_or_default()
            );
            let (report, bytes) = measure(&opts, path, writers, &writer).await;
            eprintln!(
                "projections: {path} with {writers} writers: {:.0}/s, p99 {} ms, {} errors",
                report.projections_per_sec, report.p99_ms, report.errors
            );
            view_bytes.0 += bytes.0;
            view_bytes.1 += bytes.1;
            runs.push(report);
            writer.close().await;
            if !opts.keep {
                admin
                    .execute(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)").as_str())
                    .await?;
            }
        }
    }
    Ok(Report {
        bench: "projections (baedal-bench projections)",
        server,
        fsync,
        synchronous_commit,
        full_page_writes,
        delay_ms: opts.delay.map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0),
        round_trip_p50_ms: round_trip,
        duration_secs: opts.duration.as_secs_f64(),
        orders_per_writer: opts.orders_per_writer,
        view_bytes_mean: view_bytes.0.checked_div(view_bytes.1).unwrap_or(0),
        runs,
    })
}

/// A pool like the product's (`baedal_db::connect`: no ping before each acquire) of `max`
/// connections, without the extra connections kept for hot reads.
fn pool(max: u32) -> PoolSettings {
    PoolSettings {
        max_connections: max,
        hot_reads: 0,
        ..PoolSettings::default()
    }
}

enum Writer {
    Current(ReadModel),
    Frozen {
        pool: AnyPool,
        lock_and_notify: bool,
    },
}

impl Writer {
    async fn project(&self, view: &OrderView) -> anyhow::Result<()> {
        match self {
            Writer::Current(rm) => {
                rm.project(view).await?;
            }
            Writer::Frozen {
                pool,
                lock_and_notify,
            } => shipped::project(pool, view, *lock_and_notify).await?,
        }
        Ok(())
    }

    async fn close(self) {
        match self {
            // Dropping the read model closes its pool.
            Writer::Current(rm) => drop(rm),
            Writer::Frozen { pool, .. } => pool.close().await,
        }
    }
}

/// Run `writers` writers for the warm-up and then the measured period; answers the run's
/// figures and (bytes of view JSON, views) projected.
async fn measure(
    opts: &Options,
    path: Path,
    writers: usize,
    writer: &Writer,
) -> (RunReport, (usize, usize)) {
    let start = Instant::now();
    let measure_from = start + opts.warmup;
    let end = measure_from + opts.duration;
    let tasks = (0..writers).map(|w| {
        let mut orders = Orders::new(w, opts.orders_per_writer.max(1));
        async move {
            let mut h = histogram();
            let (mut errors, mut first_error, mut bytes, mut views) = (0u64, None, 0usize, 0usize);
            loop {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let view = orders.next();
                let t = Instant::now();
                let result = writer.project(&view).await;
                let counted = t >= measure_from && Instant::now() <= end;
                match result {
                    Ok(()) if counted => {
                        let _ = h.record((t.elapsed().as_micros().max(1) as u64).min(60_000_000));
                        // The views' size from one in 16: encoding each one again would take
                        // CPU from the run.
                        if h.len() % 16 == 1 {
                            bytes += serde_json::to_string(&view).map(|s| s.len()).unwrap_or(0);
                            views += 1;
                        }
                    }
                    Ok(()) => {}
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            (h, errors, first_error, bytes, views)
        }
    });
    let results = futures::future::join_all(tasks).await;
    let mut all: Histogram<u64> = histogram();
    let (mut errors, mut first_error, mut bytes, mut views) = (0, None, 0, 0);
    for (h, e, fe, b, v) in results {
        let _ = all.add(&h);
        errors += e;
        if first_error.is_none() {
            first_error = fe;
        }
        bytes += b;
        views += v;
    }
    let report = RunReport {
        path,
        writers,
        projections: all.len(),
        projections_per_sec: (all.len() as f64 / opts.duration.as_secs_f64() * 10.0).round() / 10.0,
        p50_ms: ms(&all, 0.5),
        p99_ms: ms(&all, 0.99),
        max_ms: ms(&all, 1.0),
        errors,
        first_error,
        load_1m: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next()?.parse().ok()),
    };
    (report, (bytes, views))
}

/// The orders one writer has in flight: each call to [`Orders::next`] takes the next of them
/// in turn one status further (a new version, one more history entry); an order that has
/// reached `completed` is replaced by a new one.
struct Orders {
    writer: usize,
    next_id: u64,
    slots: Vec<OrderView>,
    turn: usize,
}

/// A completed lifecycle's statuses: eight versions per order, as the issue counts.
const LIFECYCLE: &[S] = &[
    S::Placed,
    S::Accepted,
    S::Cooking,
    S::ReadyForPickup,
    S::RiderAssigned,
    S::PickedUp,
    S::Delivered,
    S::Completed,
];

impl Orders {
    fn new(writer: usize, n: usize) -> Self {
        let mut o = Self {
            writer,
            next_id: 0,
            slots: Vec::with_capacity(n),
            turn: 0,
        };
        for _ in 0..n {
            let v = o.fresh();
            o.slots.push(v);
        }
        o
    }

    /// A new order, not yet projected (version 0, no history: `next` makes it `placed`).
    fn fresh(&mut self) -> OrderView {
        let (w, n) = (self.writer, self.next_id);
        self.next_id += 1;
        let id = format!(
            "ord_{:08x}{:016x}",
            w,
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        let store = (w * 7 + n as usize) % 1000;
        let item = |k: usize, name: &str, price: i64, quantity: u32| LineItem {
            menu_item_id: format!("mi_{store:04}_{k:02}"),
            name: name.to_owned(),
            unit_price: price,
            quantity,
            line_total: price * quantity as i64,
        };
        let items = vec![
            item(1, "돌솥비빔밥 (곱빼기, 계란 추가)", 11_000, 2),
            item(2, "김치찌개 2인분 세트 + 공기밥", 18_500, 1),
            item(3, "해물파전 (오징어·새우)", 15_000, 1),
            item(4, "식혜 500ml", 2_500, 3),
        ];
        let total = items.iter().map(|i| i.line_total).sum();
        let (lat, lon) = (
            37.45 + (n % 97) as f64 * 0.002,
            126.85 + (w % 89) as f64 * 0.003,
        );
        OrderView {
            id: id.clone(),
            status: S::Placed,
            customer_id: format!("c_{:012x}", (w as u64) << 20 | n),
            store_id: format!("st_{store:04}"),
            store_name: format!("한솥 가정식 강남역점 {store}"),
            region: "gangnam".into(),
            items,
            total,
            delivery: DeliveryAddress {
                address: format!(
                    "서울특별시 강남구 테헤란로 {} 역삼 푸르지오 {}동 {}호 (공동현관 비밀번호 #1234, 문 앞에 두고 벨 눌러주세요)",
                    100 + n % 400,
                    101 + w % 20,
                    1001 + n % 900
                ),
                region: "gangnam".into(),
                lat: lat + 0.01,
                lon: lon + 0.01,
            },
            pickup: Pickup {
                store_name: format!("한솥 가정식 강남역점 {store}"),
                lat,
                lon,
            },
            payment: PaymentInfo {
                id: format!("pay_{}", uuid::Uuid::new_v4().simple()),
                status: "succeeded".into(),
                amount: total,
            },
            refund: None,
            rider_id: None,
            history: Vec::new(),
            created_at: String::new(),
            updated_at: String::new(),
            seq: 0,
            version: 0,
            search_radius_bonus_km: 0.0,
            personal_data_erased_at: None,
        }
    }

    fn next(&mut self) -> OrderView {
        let i = self.turn % self.slots.len();
        self.turn += 1;
        if self.slots[i].version as usize >= LIFECYCLE.len() {
            self.slots[i] = self.fresh();
        }
        let v = &mut self.slots[i];
        let status = LIFECYCLE[v.version as usize];
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if v.created_at.is_empty() {
            v.created_at = at.clone();
        }
        v.version += 1;
        v.seq += 1;
        v.status = status;
        v.updated_at = at.clone();
        if status == S::RiderAssigned {
            v.rider_id = Some(format!("r_{:06}", self.writer * 31 % 500));
        }
        v.history.push(HistoryEntry {
            seq: v.seq,
            status,
            at,
            reason: (status == S::Accepted).then(|| "조리 예상 시간 25분".to_owned()),
        });
        v.clone()
    }
}

/// `ReadModel::project` as shipped when issue 20 was filed (commit `ba4555a`,
/// `readmodel/src/orders.rs`: `project_many` → `upsert` with `Guard::Newer`, then
/// `append_changes`), **frozen here for comparison**: the same SQL texts, binds and order of
/// statements, on the same schema (the read model's migrations). Do not "fix" it: it is the
/// before figure. `lock_and_notify: false` is the lock-free ceiling (no
/// `pg_advisory_xact_lock`, no `pg_notify`).
mod shipped {
    use super::MAX_RADIUS_BONUS_KM;
    use baedal_domain::OrderView;
    use sqlx::AnyPool;

    const CHANGES_CHANNEL: &str = "baedal_order_changes";
    const CHANGE_LOG_LOCK: i64 = 0x6261_6564_616c; // "baedal"

    const UPSERT_ORDER: &str =
        "INSERT INTO orders (id, version, seq, status, active, customer_id, store_id, region,
            rider_id, pickup_lat, pickup_lon, radius_bonus_km, total, created_at, updated_at, view)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, seq = excluded.seq,
            status = excluded.status, active = excluded.active, customer_id = excluded.customer_id,
            store_id = excluded.store_id, region = excluded.region, rider_id = excluded.rider_id,
            pickup_lat = excluded.pickup_lat, pickup_lon = excluded.pickup_lon,
            radius_bonus_km = excluded.radius_bonus_km, total = excluded.total,
            created_at = excluded.created_at, updated_at = excluded.updated_at, view = excluded.view
         WHERE orders.created_at = excluded.created_at
             AND (excluded.version > orders.version
                  OR (excluded.version = orders.version AND excluded.view <> orders.view))";

    pub(super) async fn project(
        pool: &AnyPool,
        view: &OrderView,
        lock_and_notify: bool,
    ) -> Result<(), sqlx::Error> {
        let json = serde_json::to_string(view).expect("an OrderView encodes");
        let mut tx = pool.begin().await?;
        let changed = sqlx::query(UPSERT_ORDER)
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
            .bind(&json)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if changed && !view.history.is_empty() {
            let rows = (0..view.history.len())
                .map(|i| {
                    let p = i * 5;
                    format!(
                        "(${}, ${}, ${}, ${}, ${})",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4,
                        p + 5
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO order_events (order_id, seq, status, at, reason) VALUES {rows}
             ON CONFLICT (order_id, seq) DO UPDATE SET status = excluded.status,
                at = excluded.at, reason = excluded.reason
             WHERE order_events.status <> excluded.status OR order_events.at <> excluded.at"
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
            q.execute(&mut *tx).await?;
        }
        if changed {
            if lock_and_notify {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(CHANGE_LOG_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "DELETE FROM order_changes WHERE order_id = $1 AND version = $2 AND view <> $3",
            )
            .bind(&view.id)
            .bind(view.version as i64)
            .bind(&json)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO order_changes (order_id, version, seq, status, store_id, at, view)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (order_id, version) DO NOTHING",
            )
            .bind(&view.id)
            .bind(view.version as i64)
            .bind(view.seq as i64)
            .bind(view.status.as_str())
            .bind(&view.store_id)
            .bind(&view.updated_at)
            .bind(&json)
            .execute(&mut *tx)
            .await?;
            if lock_and_notify {
                sqlx::query("SELECT pg_notify($1, '')")
                    .bind(CHANGES_CHANNEL)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each order goes through the eight statuses, one version at a time, then a new order
    /// takes its place; views are of a real view's size.
    #[test]
    fn orders_advance_one_version_at_a_time() {
        let mut o = Orders::new(3, 2);
        let views: Vec<OrderView> = (0..18).map(|_| o.next()).collect();
        let first: Vec<u32> = views
            .iter()
            .filter(|v| v.id == views[0].id)
            .map(|v| v.version)
            .collect();
        assert_eq!(first, (1..=8).collect::<Vec<_>>());
        assert_ne!(views[16].id, views[0].id);
        assert_eq!(views[16].version, 1);
        let completed = views.iter().find(|v| v.status == S::Completed).unwrap();
        assert_eq!(completed.history.len(), 8);
        let len = serde_json::to_string(completed).unwrap().len();
        assert!((1500..2600).contains(&len), "{len} bytes");
    }
}
