//! Webhook subscriptions and their deliveries, as rows: a hook (owner, URL, events, signing
//! secret) and one delivery per `(hook, order_id, seq)`, written in the same transaction that
//! accepts the notification, so a delivery owed is never lost to a restart and never owed twice.
//!
//! An owner is `ops` (every order) or `store:<store_id>` (that store's orders); a hook is seen
//! and changed only by its owner. The delivery itself is [`crate::delivery`]'s.

use crate::engine::{now, sql_now};
use baedal_db::{Db, Dialect};
use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

/// Event types a hook can ask for: `order.<status>` for every order status, or `*`.
pub fn event_types() -> Vec<String> {
    baedal_domain::OrderStatus::ALL
        .iter()
        .map(|s| format!("order.{}", s.as_str()))
        .collect()
}

/// The event type of a notification about `status`.
pub fn event_type(status: &str) -> String {
    format!("order.{status}")
}

pub use baedal_notification_client::{Delivery, Hook};

/// A new signing secret: `whsec_` and the base64 of 32 random bytes (Standard Webhooks).
pub fn new_secret() -> String {
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The `webhook-id` of `(hook, order_id, seq)`: stable across attempts and restarts.
pub fn delivery_id(hook_id: &str, order_id: &str, seq: u32) -> String {
    let digest = Sha256::digest(format!("{hook_id}\n{order_id}\n{seq}"));
    format!("msg_{}", &hex::encode(digest)[..32])
}

fn hook(r: &AnyRow) -> Hook {
    let events: String = r.get("events");
    Hook {
        id: r.get("id"),
        owner: r.get("owner"),
        url: r.get("url"),
        events: serde_json::from_str(&events).unwrap_or_default(),
        created_at: r.get("created_at"),
        disabled_at: r.get("disabled_at"),
        disabled_reason: r.get("disabled_reason"),
    }
}

pub(crate) fn delivery(r: &AnyRow) -> Delivery {
    Delivery {
        id: r.get("id"),
        hook_id: r.get("hook_id"),
        order_id: r.get("order_id"),
        seq: r.get::<i64, _>("seq") as u32,
        event_type: r.get("event_type"),
        status: r.get("status"),
        attempts: r.get::<i64, _>("attempts") as u32,
        next_attempt_at: r.get("next_attempt_at"),
        last_status_code: r.get::<Option<i64>, _>("last_status").map(|s| s as u16),
        last_error: r.get("last_error"),
        created_at: r.get("created_at"),
        delivered_at: r.get("delivered_at"),
    }
}

/// The hooks' rows.
#[derive(Clone)]
pub struct Hooks {
    db: Db,
}

impl Hooks {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Register a hook for `owner`; answers it and its secret (the only time it is shown).
    pub async fn create(
        &self,
        owner: &str,
        url: &str,
        events: &[String],
    ) -> Result<(Hook, String), sqlx::Error> {
        let id = format!("hk_{}", uuid::Uuid::new_v4().simple());
        let secret = new_secret();
        let events_json = serde_json::to_string(events).expect("strings serialize");
        sqlx::query(
            "INSERT INTO hooks (id, owner, url, events, secret, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&id)
        .bind(owner)
        .bind(url)
        .bind(&events_json)
        .bind(&secret)
        .bind(now())
        .execute(&self.db.pool)
        .await?;
        let hook = self.get(owner, &id).await?.expect("just inserted");
        Ok((hook, secret))
    }

    /// `owner`'s hook `id`, or `None` (also when it is someone else's).
    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<Hook>, sqlx::Error> {
        let row = sqlx::query("SELECT * FROM hooks WHERE id = $1 AND owner = $2 AND deleted = 0")
            .bind(id)
            .bind(owner)
            .fetch_optional(&self.db.pool)
            .await?;
        Ok(row.as_ref().map(hook))
    }

    pub async fn list(&self, owner: &str) -> Result<Vec<Hook>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT * FROM hooks WHERE owner = $1 AND deleted = 0 ORDER BY created_at, id",
        )
        .bind(owner)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(rows.iter().map(hook).collect())
    }

    /// Delete `owner`'s hook: no new deliveries, and none of those still owed is sent again
    /// (the due scan reads live hooks only). What it was owed is settled as `abandoned` in
    /// batches afterwards ([`crate::delivery::Settler`]; wake it), not in this request: a
    /// hook may be owed far too many rows for one statement. Answers whether it existed.
    pub async fn delete(&self, owner: &str, id: &str) -> Result<bool, sqlx::Error> {
        let gone = sqlx::query(
            "UPDATE hooks SET deleted = 1 WHERE id = $1 AND owner = $2 AND deleted = 0",
        )
        .bind(id)
        .bind(owner)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        Ok(gone)
    }

    /// A new signing secret for `owner`'s hook; the old one keeps signing beside it for
    /// `overlap` (receivers switch without missing a delivery). `None`: no such hook.
    pub async fn rotate_secret(
        &self,
        owner: &str,
        id: &str,
        overlap: std::time::Duration,
    ) -> Result<Option<(Hook, String)>, sqlx::Error> {
        let secret = new_secret();
        let until = (chrono::Utc::now() + chrono::Duration::from_std(overlap).unwrap_or_default())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let rotated = sqlx::query(
            "UPDATE hooks SET previous_secret = secret, previous_secret_until = $1, secret = $2
             WHERE id = $3 AND owner = $4 AND deleted = 0",
        )
        .bind(&until)
        .bind(&secret)
        .bind(id)
        .bind(owner)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        if !rotated {
            return Ok(None);
        }
        Ok(self.get(owner, id).await?.map(|h| (h, secret)))
    }

    /// Deliver `delivery_id` of `owner`'s hook once more, now (one attempt: a failed delivery
    /// whose schedule ran out gets one, a pending one is brought forward). `None`: no such
    /// hook or delivery; `Some(false)`: the hook is disabled (register it again).
    ///
    /// A delivery being attempted right now (leased, its lease not run out by the database's
    /// clock) is left alone: the retry is folded into that attempt, whose outcome the
    /// deliveries list shows, and nothing is sent twice. A lease that ran out belongs to an
    /// attempt presumed dead: the retry clears its token, so that attempt's late outcome
    /// changes nothing, and the delivery is due at once. A delivery already succeeded is not
    /// sent again.
    pub async fn retry(
        &self,
        owner: &str,
        hook_id: &str,
        delivery_id: &str,
    ) -> Result<Option<bool>, sqlx::Error> {
        let Some(hook) = self.get(owner, hook_id).await? else {
            return Ok(None);
        };
        if hook.disabled_at.is_some() {
            return Ok(Some(false));
        }
        let found = sqlx::query(
            &"UPDATE hook_deliveries SET status = 'pending', next_attempt_at = NOW,
                lease_token = NULL
             WHERE id = $1 AND hook_id = $2 AND status IN ('pending', 'failed')
               AND NOT (status = 'pending' AND lease_token IS NOT NULL
                        AND next_attempt_at > NOW)"
                .replace("NOW", sql_now(self.db.dialect)),
        )
        .bind(delivery_id)
        .bind(hook_id)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        if found {
            return Ok(Some(true));
        }
        // Already delivered, or being attempted: nothing to do, but it exists.
        let exists = sqlx::query("SELECT 1 FROM hook_deliveries WHERE id = $1 AND hook_id = $2")
            .bind(delivery_id)
            .bind(hook_id)
            .fetch_optional(&self.db.pool)
            .await?
            .is_some();
        Ok(exists.then_some(true))
    }

    /// The deliveries of `owner`'s hook, newest first.
    pub async fn deliveries(
        &self,
        owner: &str,
        hook_id: &str,
        limit: u32,
    ) -> Result<Option<Vec<Delivery>>, sqlx::Error> {
        if self.get(owner, hook_id).await?.is_none() {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT * FROM hook_deliveries WHERE hook_id = $1
             ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(hook_id)
        .bind(limit as i64)
        .fetch_all(&self.db.pool)
        .await?;
        Ok(Some(rows.iter().map(delivery).collect()))
    }

    /// Owe every live hook that wants it the event about `(order_id, seq)`, inside the
    /// transaction that accepts the notification. Answers whether any delivery is owed now
    /// (only then is the delivery loop woken: most orders' stores have no hook).
    pub(crate) async fn enqueue(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        dialect: Dialect,
        n: &crate::NotificationRequest,
        at: &str,
    ) -> Result<bool, sqlx::Error> {
        // Hooks hear of status changes, which name their store; alerts to ops do not.
        let Some(store) = n.store_id.clone() else {
            return Ok(false);
        };
        let kind = event_type(&n.status);
        let hooks = sqlx::query(
            "SELECT id, events FROM hooks WHERE deleted = 0 AND disabled_at IS NULL
             AND (owner = 'ops' OR owner = $1)",
        )
        .bind(format!("store:{store}"))
        .fetch_all(&mut **tx)
        .await?;
        let payload = serde_json::json!({
            "type": kind,
            "timestamp": at,
            "data": {
                "order_id": n.order_id,
                "seq": n.seq,
                "status": n.status,
                "store_id": store,
                "at": at,
                "message": n.message,
            }
        })
        .to_string();
        let mut owed = false;
        for h in hooks {
            let events: Vec<String> =
                serde_json::from_str(&h.get::<String, _>("events")).unwrap_or_default();
            if !events.iter().any(|e| e == "*" || *e == kind) {
                continue;
            }
            let hook_id: String = h.get("id");
            // Due at once by the database's clock, which decides what is due.
            owed |= sqlx::query(&format!(
                "INSERT INTO hook_deliveries (id, hook_id, order_id, seq, event_type, payload,
                    status, attempts, next_attempt_at, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, {}, $7)
                 ON CONFLICT (hook_id, order_id, seq) DO NOTHING",
                sql_now(dialect)
            ))
            .bind(delivery_id(&hook_id, &n.order_id, n.seq))
            .bind(&hook_id)
            .bind(&n.order_id)
            .bind(n.seq as i64)
            .bind(&kind)
            .bind(&payload)
            .bind(at)
            .execute(&mut **tx)
            .await?
            .rows_affected()
                > 0;
        }
        Ok(owed)
    }
}
