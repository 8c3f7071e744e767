//! The notification service: accepts one notification per `(order_id, seq)`, keeps an inbox
//! per recipient (customer, store, rider, ops), and delivers each to the webhooks that
//! subscribed to it (signed, at least once, retried over about a day), reached over real HTTP.
//!
//! It must not call back into baedal, a notification sent twice for the same `(order_id, seq)`
//! is stored (and delivered) once, and no order ever waits for a webhook receiver.
//!
//! Its requests and answers are declared in `baedal-notification-client`, and the handlers
//! here read and write exactly those types: callers (the worker, the api) depend on that
//! crate, never on this one. Webhook deliveries and KakaoTalk messages are both rows owed and
//! sent by one leased-row loop ([`engine`]), each channel saying only which rows and how to
//! send one. What the webhooks are still owed is reported as gauges ([`backlog`]).

pub mod backlog;
pub mod channels;
mod channels_http;
mod code;
pub mod delivery;
pub mod engine;
pub mod hooks;
mod hooks_http;
pub mod kakao;
pub mod phones;
mod phones_http;
pub mod retention;
pub mod ssrf;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use baedal_auth::Identity;
use baedal_db::{Db, Migrations, PoolSettings};
use baedal_http::readiness::{Probe, Readiness, ReadinessSettings};
pub use code::NotifyCode;
use code::{ApiError, ApiResult};
use serde::Deserialize;
use sqlx::Row;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The contract this service serves, declared once in `baedal-notification-client`.
pub use baedal_notification_client::{Accepted, Faults, Inbox, InboxEntry, NotificationRequest};

/// The notification store's migrations, one directory per dialect.
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("./migrations/sqlite"),
        sqlx::migrate!("./migrations/postgres"),
    )
}

#[derive(Clone)]
pub struct NotifyState {
    db: Db,
    service_token: Arc<str>,
    identity: Identity,
    unavailable: Arc<AtomicBool>,
    /// Serve the fault switch (tests and demos only).
    fault_injection: bool,
    hooks: hooks::Hooks,
    deliverer: engine::Deliverer,
    /// Settles what disabled and deleted hooks were owed.
    settler: delivery::Settler,
    /// The KakaoTalk channel, when a provider is configured.
    kakao: Option<engine::Deliverer>,
    /// The codes that prove a customer's number, when a KakaoTalk provider is configured.
    phones: Option<phones::Phones>,
    allow_private_hooks: bool,
    /// What `/readyz` answers from: the store's database, pinged in the background.
    readiness: Readiness,
}

impl NotifyState {
    /// Open the store and start delivering what it owes to webhooks.
    pub async fn open(
        db_url: &str,
        service_token: &str,
        identity: Identity,
        delivery: delivery::DeliverySettings,
        kakao: Option<kakao::KakaoSettings>,
    ) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = baedal_db::open(db_url, PoolSettings::default(), &migrations()).await?;
        let allow_private_hooks = delivery.allow_private;
        let (deliverer, settler) = delivery::spawn(db.clone(), delivery);
        let d = db.clone();
        let database: Probe = Box::new(move || {
            let d = d.clone();
            Box::pin(async move { d.ping().await.is_ok() })
        });
        Ok(Self {
            readiness: Readiness::watch(vec![("database", database)], ReadinessSettings::default()),
            hooks: hooks::Hooks::new(db.clone()),
            deliverer,
            settler,
            phones: kakao
                .clone()
                .map(|k| phones::Phones::new(db.clone(), k, service_token)),
            kakao: kakao.map(|k| kakao::spawn(db.clone(), k)),
            db,
            service_token: service_token.into(),
            identity,
            unavailable: Arc::default(),
            fault_injection: false,
            allow_private_hooks,
        })
    }

    /// Serve the fault switch (`/v1/admin/faults`, which makes the service answer 503): tests
    /// and demos only (default off: then the route does not exist).
    pub fn with_fault_injection(mut self, on: bool) -> Self {
        self.fault_injection = on;
        self
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn hooks(&self) -> &hooks::Hooks {
        &self.hooks
    }

    /// Store a notification once; returns whether it was new.
    pub async fn accept(&self, n: &NotificationRequest) -> Result<bool, sqlx::Error> {
        let now = engine::now();
        let mut tx = self.db.pool.begin().await?;
        let created = sqlx::query(
            "INSERT INTO notifications (order_id, seq, status, message, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_id, seq) DO NOTHING",
        )
        .bind(&n.order_id)
        .bind(n.seq as i64)
        .bind(&n.status)
        .bind(&n.message)
        .bind(&now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        // The delivery loops are woken only for what they owe: a wake costs each a scan.
        let (mut hooks_owed, mut kakao_owed) = (false, false);
        if created {
            hooks_owed = hooks::Hooks::enqueue(&mut tx, self.db.dialect, n, &now).await?;
            let mut inbox = Vec::with_capacity(n.recipients.len());
            for r in &n.recipients {
                // People choose their channels; stores, riders and ops read their inbox.
                let prefs = if r.starts_with("customer:") {
                    channels::get(&mut *tx, r).await?
                } else {
                    channels::Prefs::default()
                };
                if let (true, Some(phone), Some(_)) = (prefs.kakao, &prefs.phone, &self.kakao) {
                    kakao_owed |=
                        kakao::enqueue(&mut tx, self.db.dialect, n, r, phone, &now).await?;
                }
                if prefs.inbox {
                    inbox.push(r.as_str());
                }
            }
            add_to_inboxes(&mut tx, &inbox, &n.order_id, n.seq).await?;
        }
        tx.commit().await?;
        if hooks_owed {
            self.deliverer.wake();
        }
        if let (true, Some(k)) = (kakao_owed, &self.kakao) {
            k.wake();
        }
        Ok(created)
    }

    /// A recipient's inbox, or an order's entries in every inbox, oldest first (at most
    /// 1,000). Entries show their notification's status, message and time (joined: an entry
    /// stores none of them); the previous release's rows in `inbox` carry their own copies and
    /// are read beside them until retention has emptied that table.
    pub async fn inbox(
        &self,
        recipient: Option<&str>,
        order_id: Option<&str>,
    ) -> Result<Vec<InboxEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, recipient, order_id, seq, status, message, created_at FROM inbox
             WHERE ($1 IS NULL OR recipient = $2) AND ($3 IS NULL OR order_id = $4)
             UNION ALL
             SELECT e.id, e.recipient, e.order_id, e.seq, n.status, n.message, n.created_at
             FROM inbox_entries e JOIN notifications n ON n.order_id = e.order_id AND n.seq = e.seq
             WHERE ($1 IS NULL OR e.recipient = $2) AND ($3 IS NULL OR e.order_id = $4)
             ORDER BY id LIMIT 1000",
        )
        .bind(recipient)
        .bind(recipient)
        .bind(order_id)
        .bind(order_id)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(inbox_entry).collect())
    }

    /// `recipient`'s newest `n` entries, newest first: what an inbox page shows, read from
    /// the end of `(recipient, id)` in each table, however long the recipient's history.
    pub async fn newest(&self, recipient: &str, n: u32) -> Result<Vec<InboxEntry>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT * FROM (SELECT id, recipient, order_id, seq, status, message, created_at
                 FROM inbox WHERE recipient = $1 ORDER BY id DESC LIMIT $2) AS old_rows
             UNION ALL
             SELECT * FROM (SELECT e.id, e.recipient, e.order_id, e.seq, n.status, n.message,
                     n.created_at
                 FROM inbox_entries e
                 JOIN notifications n ON n.order_id = e.order_id AND n.seq = e.seq
                 WHERE e.recipient = $3 ORDER BY e.id DESC LIMIT $4) AS new_rows
             ORDER BY id DESC LIMIT $5",
        )
        .bind(recipient)
        .bind(n as i64)
        .bind(recipient)
        .bind(n as i64)
        .bind(n as i64)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(inbox_entry).collect())
    }
}

fn inbox_entry(r: &sqlx::any::AnyRow) -> InboxEntry {
    InboxEntry {
        id: r.get("id"),
        recipient: r.get("recipient"),
        order_id: r.get("order_id"),
        seq: r.get::<i64, _>("seq") as u32,
        status: r.get("status"),
        message: r.get("message"),
        created_at: r.get("created_at"),
    }
}

/// Put notification `(order_id, seq)` in each of `recipients`' inboxes, in one statement. Call
/// it only in the transaction that created the notification: that is what makes each entry
/// once (entries have no unique key of their own, which would cost an index per entry).
pub(crate) async fn add_to_inboxes(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    recipients: &[&str],
    order_id: &str,
    seq: u32,
) -> Result<(), sqlx::Error> {
    if recipients.is_empty() {
        return Ok(());
    }
    let values = (0..recipients.len())
        .map(|i| format!("(${}, $1, $2)", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO inbox_entries (recipient, order_id, seq) VALUES {values}");
    let mut q = sqlx::query(&sql).bind(order_id).bind(seq as i64);
    for r in recipients {
        q = q.bind(*r);
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// Reads and the fault switch: the service token or an ops person.
async fn authorize_read(state: &NotifyState, headers: &HeaderMap) -> ApiResult<()> {
    Ok(baedal_http::require_service_or_ops(headers, &state.service_token, &state.identity).await?)
}

/// What moves money or sends messages: the worker's service token only.
fn authorize_service(state: &NotifyState, headers: &HeaderMap) -> ApiResult<()> {
    Ok(baedal_http::require_service_token(
        headers,
        &state.service_token,
    )?)
}

async fn post_notification(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<NotificationRequest>, JsonRejection>,
) -> ApiResult<Response> {
    authorize_service(&state, &headers)?;
    if state.unavailable.load(Ordering::Relaxed) {
        return Err(ApiError::new(
            NotifyCode::Unavailable,
            "switched off by the fault switch; retry after Retry-After",
        ));
    }
    let n = baedal_http::json_body(body)?;
    if n.order_id.is_empty() || n.recipients.is_empty() || n.recipients.len() > 20 {
        return Err(ApiError::new(
            NotifyCode::InvalidNotification,
            "order_id and 1..20 recipients are required",
        ));
    }
    let created = state
        .accept(&n)
        .await
        .map_err(|e| ApiError::dependency_down("the inbox", e))?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let answer = Accepted {
        accepted: true,
        duplicate: !created,
    };
    Ok((code, Json(answer)).into_response())
}

#[derive(Debug, Deserialize)]
struct InboxQuery {
    recipient: Option<String>,
    order_id: Option<String>,
    /// With `recipient=`: that recipient's newest entries, newest first (1..=100).
    newest: Option<u32>,
}

async fn get_notifications(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    Query(q): Query<InboxQuery>,
) -> ApiResult<Json<Inbox>> {
    authorize_read(&state, &headers).await?;
    if q.recipient.is_none() && q.order_id.is_none() {
        return Err(ApiError::new(
            NotifyCode::MissingFilter,
            "give recipient= or order_id=",
        ));
    }
    let notifications = match (q.newest, q.recipient.as_deref()) {
        (Some(n), Some(recipient)) => state.newest(recipient, n.clamp(1, 100)).await,
        _ => {
            state
                .inbox(q.recipient.as_deref(), q.order_id.as_deref())
                .await
        }
    }
    .map_err(|e| ApiError::dependency_down("the inbox", e))?;
    Ok(Json(Inbox { notifications }))
}

async fn put_faults(
    State(state): State<NotifyState>,
    headers: HeaderMap,
    body: Result<Json<Faults>, JsonRejection>,
) -> ApiResult<Json<Faults>> {
    authorize_read(&state, &headers).await?;
    let f = baedal_http::json_body(body)?;
    state.unavailable.store(f.unavailable, Ordering::Relaxed);
    Ok(Json(f))
}

/// Ready when its own database answered lately: the one thing this service cannot serve
/// without. No I/O per probe (`baedal_http::readiness`).
async fn readyz(State(state): State<NotifyState>) -> (StatusCode, Json<serde_json::Value>) {
    state.readiness.answer()
}

pub fn router(state: NotifyState) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(baedal_http::healthz))
        .route("/readyz", get(readyz))
        .route(
            "/v1/notifications",
            get(get_notifications).post(post_notification),
        );
    if state.fault_injection {
        router = router.route("/v1/admin/faults", put(put_faults));
    }
    router
        .merge(hooks_http::routes())
        .merge(channels_http::routes())
        .merge(phones_http::routes())
        .layer(tower_http::limit::RequestBodyLimitLayer::new(64 * 1024))
        .layer(axum::middleware::from_fn(
            baedal_http::hardening::security_headers,
        ))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The notification store as the previous release (migrations up to 6) left it.
    fn migrations_up_to(version: i64) -> Migrations {
        let cut = |mut m: sqlx::migrate::Migrator| {
            m.migrations = std::borrow::Cow::Owned(
                m.migrations
                    .iter()
                    .filter(|x| x.version <= version)
                    .cloned()
                    .collect(),
            );
            m
        };
        Migrations::new(
            cut(sqlx::migrate!("./migrations/sqlite")),
            cut(sqlx::migrate!("./migrations/postgres")),
        )
    }

    /// An inbox written by the previous release (a copy of the text per recipient, and a
    /// webhook-disabled notice with no notification of its own) reads the same after the
    /// upgrade, before the entries written since, in one id order.
    #[tokio::test]
    async fn the_previous_releases_inbox_reads_the_same_beside_the_new_entries() {
        // A file, not memory: the database outlives the first release's pool.
        let dir = std::env::temp_dir().join(format!("baedal-inbox-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = baedal_db::scratch_url_in(&dir, "notify.db");
        let old = baedal_db::connect(&url, PoolSettings::default())
            .await
            .unwrap();
        old.migrate(&migrations_up_to(6)).await.unwrap();
        sqlx::query(
            "INSERT INTO notifications (order_id, seq, status, message, created_at)
             VALUES ('ord_1', 1, 'placed', 'placed!', '2026-01-01T00:00:00Z')",
        )
        .execute(&old.pool)
        .await
        .unwrap();
        for (who, order, status, message) in [
            ("customer:c1", "ord_1", "placed", "placed!"),
            ("store:st_1", "ord_1", "placed", "placed!"),
            (
                "owner:o1",
                "hook:h1",
                "hook_disabled",
                "Your webhook was disabled",
            ),
        ] {
            sqlx::query(
                "INSERT INTO inbox (recipient, order_id, seq, status, message, created_at)
                 VALUES ($1, $2, $3, $4, $5, '2026-01-01T00:00:00Z')",
            )
            .bind(who)
            .bind(order)
            .bind(if order == "ord_1" { 1i64 } else { 0 })
            .bind(status)
            .bind(message)
            .execute(&old.pool)
            .await
            .unwrap();
        }
        old.pool.close().await;

        let s = store_at(&url).await;
        let n = accepted("accepted!");
        assert!(s.accept(&n).await.unwrap());
        let shown = |entries: Vec<InboxEntry>| {
            entries
                .into_iter()
                .map(|e| {
                    format!(
                        "{} {}#{} {} {}",
                        e.recipient, e.order_id, e.seq, e.status, e.message
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            shown(s.inbox(Some("customer:c1"), None).await.unwrap()),
            [
                "customer:c1 ord_1#1 placed placed!",
                "customer:c1 ord_1#2 accepted accepted!"
            ]
        );
        assert_eq!(
            shown(s.inbox(None, Some("ord_1")).await.unwrap()),
            [
                "customer:c1 ord_1#1 placed placed!",
                "store:st_1 ord_1#1 placed placed!",
                "customer:c1 ord_1#2 accepted accepted!",
                "store:st_1 ord_1#2 accepted accepted!"
            ]
        );
        assert_eq!(
            shown(s.inbox(Some("owner:o1"), None).await.unwrap()),
            ["owner:o1 hook:h1#0 hook_disabled Your webhook was disabled"]
        );
        // A repeat adds nothing to any inbox.
        assert!(!s.accept(&n).await.unwrap());
        assert_eq!(s.inbox(None, Some("ord_1")).await.unwrap().len(), 4);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn one_notification_per_order_and_seq() {
        let s = store_at(&baedal_db::scratch_url().await).await;
        let n = accepted("accepted");
        assert!(s.accept(&n).await.unwrap());
        assert!(!s.accept(&n).await.unwrap());
        assert_eq!(s.inbox(Some("customer:c1"), None).await.unwrap().len(), 1);
        assert_eq!(s.inbox(None, Some("ord_1")).await.unwrap().len(), 2);
    }
    /// A notification service over the store at `url`, as the tests below open it.
    async fn store_at(url: &str) -> NotifyState {
        NotifyState::open(
            url,
            "svc",
            baedal_auth::Identity::new(baedal_auth::TokenKeys::new("jwt")),
            delivery::DeliverySettings::default(),
            None,
        )
        .await
        .unwrap()
    }

    /// Order ord_1's `accepted` (seq 2) for its customer and store, saying `message`.
    fn accepted(message: &str) -> NotificationRequest {
        NotificationRequest {
            order_id: "ord_1".into(),
            seq: 2,
            recipients: vec!["customer:c1".into(), "store:st_1".into()],
            status: "accepted".into(),
            message: message.into(),
            store_id: Some("st_1".into()),
            order: None,
        }
    }
}

#[cfg(test)]
mod online_migrations {
    /// Migrations from this version on are applied to a live database (issue 20's rule): none
    /// may hold a long lock on a table in use (see `baedal_db::check_online_safe`).
    #[test]
    fn new_migrations_of_the_notification_store_never_lock_a_live_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        assert_eq!(baedal_db::check_online_safe(&dir, 4), Vec::<String>::new());
    }
}
