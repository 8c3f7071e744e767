//! The ledger: every charge and refund, keyed by idempotency key.

use crate::{ChargeRequest, RefundRequest};
use baedal_db::{Db, Migrations, PoolSettings};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The ledger's migrations, one directory per dialect.
pub fn migrations() -> Migrations {
    Migrations {
        sqlite: sqlx::migrate!("./migrations/sqlite"),
        postgres: sqlx::migrate!("./migrations/postgres"),
    }
}

/// One ledger line, as `GET /v1/payments` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub id: String,
    pub order_id: String,
    /// `charge` or `refund`.
    pub kind: String,
    pub amount: i64,
    /// `succeeded`, `declined` or `failed`.
    pub status: String,
    pub created_at: String,
}

/// Why a refund was refused. Each has its own error code at the HTTP door, because the caller
/// must tell them apart: "nothing was charged" settles a refund owed, anything else does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("order {order_id} has no succeeded charge: nothing to refund")]
    NoSucceededCharge { order_id: String },
    #[error("refund of {requested} exceeds the {charged} charged for order {order_id}")]
    ExceedsCharge {
        order_id: String,
        requested: i64,
        charged: i64,
    },
}

impl RefundRefusal {
    /// The error code the payment service answers with.
    pub fn code(&self) -> &'static str {
        match self {
            RefundRefusal::NoSucceededCharge { .. } => NO_SUCCEEDED_CHARGE,
            RefundRefusal::ExceedsCharge { .. } => "refund_exceeds_charge",
        }
    }
}

/// The one refusal code that means a refund is not owed.
pub const NO_SUCCEEDED_CHARGE: &str = "no_succeeded_charge";

#[derive(Clone, Debug)]
pub struct Ledger {
    db: Db,
}

fn record(r: &AnyRow) -> PaymentRecord {
    PaymentRecord {
        id: r.get("id"),
        order_id: r.get("order_id"),
        kind: r.get("kind"),
        amount: r.get("amount"),
        status: r.get("status"),
        created_at: r.get("created_at"),
    }
}

impl Ledger {
    /// Connect to `url` (`BAEDAL_PAYMENT_DATABASE_URL`: SQLite or PostgreSQL, the payment
    /// service's own database) and apply its migrations.
    pub async fn open(url: &str) -> Result<Self, sqlx::Error> {
        let settings = PoolSettings {
            max_connections: 8,
            // A lost ledger write would be money nobody can account for.
            sqlite_synchronous_full: true,
            hot_reads: 0,
        };
        Ok(Self {
            db: baedal_db::open(url, settings, &migrations()).await?,
        })
    }

    /// Insert unless the key exists; return the stored record and whether it is new. The
    /// insert-or-ignore makes concurrent retries of one key race safely to a single row.
    async fn insert_once(
        &self,
        key: &str,
        order_id: &str,
        kind: &str,
        amount: i64,
        status: &str,
    ) -> Result<(PaymentRecord, bool), sqlx::Error> {
        let id = format!("pay_{}", uuid::Uuid::new_v4().simple());
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let created = sqlx::query(
            "INSERT INTO payments (id, idempotency_key, order_id, kind, amount, status, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&id)
        .bind(key)
        .bind(order_id)
        .bind(kind)
        .bind(amount)
        .bind(status)
        .bind(&now)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query("SELECT * FROM payments WHERE idempotency_key = $1")
            .bind(key)
            .fetch_one(&self.db.pool)
            .await?;
        Ok((record(&row), created))
    }

    /// Whether the ledger's database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.db.ping().await
    }

    pub async fn charge(
        &self,
        req: &ChargeRequest,
        approved: bool,
    ) -> Result<(PaymentRecord, bool), sqlx::Error> {
        let status = if approved { "succeeded" } else { "declined" };
        self.insert_once(
            &req.idempotency_key,
            &req.order_id,
            "charge",
            req.amount,
            status,
        )
        .await
    }

    /// Refund up to what the order was charged. The inner `Err` is a refusal to explain to
    /// the caller: only [`RefundRefusal::NoSucceededCharge`] means nothing is owed.
    pub async fn refund(
        &self,
        req: &RefundRequest,
    ) -> Result<Result<(PaymentRecord, bool), RefundRefusal>, sqlx::Error> {
        if let Some(row) = sqlx::query("SELECT * FROM payments WHERE idempotency_key = $1")
            .bind(&req.idempotency_key)
            .fetch_optional(&self.db.pool)
            .await?
        {
            return Ok(Ok((record(&row), false)));
        }
        let charged: i64 = sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM payments
             WHERE order_id = $1 AND kind = 'charge' AND status = 'succeeded'",
        )
        .bind(&req.order_id)
        .fetch_one(&self.db.pool)
        .await?
        .get("total");
        if charged == 0 {
            return Ok(Err(RefundRefusal::NoSucceededCharge {
                order_id: req.order_id.clone(),
            }));
        }
        if req.amount > charged {
            return Ok(Err(RefundRefusal::ExceedsCharge {
                order_id: req.order_id.clone(),
                requested: req.amount,
                charged,
            }));
        }
        self.insert_once(
            &req.idempotency_key,
            &req.order_id,
            "refund",
            req.amount,
            "succeeded",
        )
        .await
        .map(Ok)
    }

    pub async fn list(&self, order_id: Option<&str>) -> Result<Vec<PaymentRecord>, sqlx::Error> {
        let rows = match order_id {
            Some(o) => {
                sqlx::query("SELECT * FROM payments WHERE order_id = $1 ORDER BY created_at, id")
                    .bind(o)
                    .fetch_all(&self.db.pool)
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM payments ORDER BY created_at, id")
                    .fetch_all(&self.db.pool)
                    .await?
            }
        };
        Ok(rows.iter().map(record).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn charge_req(key: &str, order_id: &str) -> ChargeRequest {
        ChargeRequest {
            idempotency_key: key.into(),
            order_id: order_id.into(),
            amount: 10_000,
            card_token: "tok_ok".into(),
        }
    }

    #[tokio::test]
    async fn same_key_charges_once() {
        let l = Ledger::open(&baedal_db::scratch_url().await).await.unwrap();
        let req = charge_req("ord_1", "ord_1");
        let (a, created_a) = l.charge(&req, true).await.unwrap();
        let (b, created_b) = l.charge(&req, true).await.unwrap();
        assert!(created_a && !created_b);
        assert_eq!(a, b);
        assert_eq!(l.list(Some("ord_1")).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refunds_need_a_succeeded_charge_and_happen_once() {
        let l = Ledger::open(&baedal_db::scratch_url().await).await.unwrap();
        let refund = |amount| RefundRequest {
            idempotency_key: "ord_2:refund".into(),
            order_id: "ord_2".into(),
            amount,
        };
        assert_eq!(
            l.refund(&refund(10_000)).await.unwrap().unwrap_err().code(),
            NO_SUCCEEDED_CHARGE,
            "nothing charged"
        );
        l.charge(&charge_req("attempt-1", "ord_2"), false)
            .await
            .unwrap();
        assert!(
            l.refund(&refund(10_000)).await.unwrap().is_err(),
            "declined charge"
        );
        l.charge(&charge_req("attempt-2", "ord_2"), true)
            .await
            .unwrap();
        assert_eq!(
            l.refund(&refund(20_000)).await.unwrap().unwrap_err().code(),
            "refund_exceeds_charge",
            "more than charged"
        );
        let (r1, c1) = l.refund(&refund(10_000)).await.unwrap().unwrap();
        let (r2, c2) = l.refund(&refund(10_000)).await.unwrap().unwrap();
        assert!(c1 && !c2);
        assert_eq!(r1.id, r2.id);
        let refunds = l
            .list(Some("ord_2"))
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == "refund")
            .count();
        assert_eq!(refunds, 1);
    }
}
