//! The ledger: every charge and refund, keyed by idempotency key.
//!
//! A key names one charge for one order: a replay must answer what that charge is now (it may
//! have been refunded, or voided before it arrived), and a key reused for other money must be
//! refused rather than answered with a charge the caller did not ask for.

use crate::code::PaymentCode;
use crate::{ChargeRequest, PaymentRecord, RefundRequest};
use baedal_db::{Db, Migrations, PoolSettings};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

/// The ledger's migrations, one directory per dialect.
pub fn migrations() -> Migrations {
    Migrations::new(
        sqlx::migrate!("./migrations/sqlite"),
        sqlx::migrate!("./migrations/postgres"),
    )
}

/// Why a refund was refused. Each has its own error code at the HTTP door, because the caller
/// must tell them apart: "nothing was charged" settles a refund owed, anything else does not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("order {order_id} has no succeeded charge: nothing to refund")]
    NoSucceededCharge { order_id: String },
    #[error(
        "refund of {requested} exceeds what is left to refund for order {order_id}: \
         {refundable} of the {charged} charged"
    )]
    ExceedsCharge {
        order_id: String,
        requested: i64,
        charged: i64,
        refundable: i64,
    },
    /// The key was first used for other money (another amount or order, or not a refund).
    #[error("refund key {key} was first used for {what}; use a new key for another refund")]
    KeyMismatch { key: String, what: String },
}

impl RefundRefusal {
    /// The error code the payment service answers with.
    pub fn code(&self) -> PaymentCode {
        match self {
            RefundRefusal::NoSucceededCharge { .. } => PaymentCode::NoSucceededCharge,
            RefundRefusal::ExceedsCharge { .. } => PaymentCode::RefundExceedsCharge,
            RefundRefusal::KeyMismatch { .. } => PaymentCode::IdempotencyKeyMismatch,
        }
    }
}

/// Why a charge was refused without touching the ledger. Answering a key reused with another
/// amount or card with the first charge would tell the caller money was taken that it never
/// asked for (or the wrong sum), so it is refused and the caller must pick a new key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChargeRefusal {
    #[error(
        "idempotency key {key} was already used for {what}: \
         use a new idempotency key for a new charge"
    )]
    KeyMismatch { key: String, what: String },
}

impl ChargeRefusal {
    /// The error code the payment service answers with.
    pub fn code(&self) -> PaymentCode {
        match self {
            ChargeRefusal::KeyMismatch { .. } => PaymentCode::IdempotencyKeyMismatch,
        }
    }
}

/// What the ledger keeps of a card: the SHA-256 (hex) of its token. Enough to tell a replay
/// with another card from a true replay, without the ledger ever holding card data.
pub fn card_fingerprint(card_token: &str) -> String {
    hex::encode(Sha256::digest(card_token.as_bytes()))
}

#[derive(Clone, Debug)]
pub struct Ledger {
    db: Db,
}

/// A stored line and what the answer does not show of it.
struct Stored {
    record: PaymentRecord,
    /// `None` on rows from before fingerprints were kept, and on tombstones and refunds.
    card_fingerprint: Option<String>,
}

fn stored(r: &AnyRow) -> Stored {
    Stored {
        record: record(r),
        card_fingerprint: r.get("card_fingerprint"),
    }
}

fn record(r: &AnyRow) -> PaymentRecord {
    PaymentRecord {
        id: r.get("id"),
        order_id: r.get("order_id"),
        kind: r.get("kind"),
        amount: r.get("amount"),
        status: r.get("status"),
        refunded_amount: None,
        created_at: r.get("created_at"),
    }
}

/// What a replayed charge key was first used for, when that is not this request: `None` when
/// the request is the same charge again. A tombstone matches anything (the key is closed,
/// whatever was to be charged with it); a row without a fingerprint is judged by amount only,
/// since its card was never recorded.
fn mismatch(s: &Stored, req: &ChargeRequest, fingerprint: &str) -> Option<String> {
    let r = &s.record;
    if r.kind == "charge" && r.status == "voided" {
        return None;
    }
    if r.kind != "charge" {
        return Some(format!("a {} of order {}", r.kind, r.order_id));
    }
    if r.order_id != req.order_id {
        return Some(format!("a charge of order {}", r.order_id));
    }
    if r.amount != req.amount {
        return Some(format!("a charge of {} won, not {}", r.amount, req.amount));
    }
    match &s.card_fingerprint {
        Some(f) if f != fingerprint => Some("a charge on another card".to_owned()),
        _ => None,
    }
}

/// One line to insert once under its key.
struct NewLine<'a> {
    key: &'a str,
    order_id: &'a str,
    kind: &'a str,
    amount: i64,
    status: &'a str,
    card_fingerprint: Option<&'a str>,
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

    /// Insert unless the key exists; return the stored line and whether it is new. The
    /// insert-or-ignore makes concurrent requests for one key (retries, or a charge racing the
    /// tombstone of its refund) race safely to a single row: whoever inserts first wins.
    async fn insert_once(&self, line: NewLine<'_>) -> Result<(Stored, bool), sqlx::Error> {
        let id = format!("pay_{}", uuid::Uuid::new_v4().simple());
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let created = sqlx::query(
            "INSERT INTO payments
                 (id, idempotency_key, order_id, kind, amount, status, created_at, card_fingerprint)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(&id)
        .bind(line.key)
        .bind(line.order_id)
        .bind(line.kind)
        .bind(line.amount)
        .bind(line.status)
        .bind(&now)
        .bind(line.card_fingerprint)
        .execute(&self.db.pool)
        .await?
        .rows_affected()
            == 1;
        let row = sqlx::query("SELECT * FROM payments WHERE idempotency_key = $1")
            .bind(line.key)
            .fetch_one(&self.db.pool)
            .await?;
        Ok((stored(&row), created))
    }

    /// Whether the ledger's database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        self.db.ping().await
    }

    /// Charge once per key. The inner `Err` refuses a key reused for other money (nothing is
    /// written); otherwise the answer is the key's charge as it stands now (see
    /// [`Self::current`]) and whether this request created it.
    pub async fn charge(
        &self,
        req: &ChargeRequest,
        approved: bool,
    ) -> Result<Result<(PaymentRecord, bool), ChargeRefusal>, sqlx::Error> {
        let fingerprint = card_fingerprint(&req.card_token);
        let (line, created) = self
            .insert_once(NewLine {
                key: &req.idempotency_key,
                order_id: &req.order_id,
                kind: "charge",
                amount: req.amount,
                status: if approved { "succeeded" } else { "declined" },
                card_fingerprint: Some(&fingerprint),
            })
            .await?;
        if !created && let Some(what) = mismatch(&line, req, &fingerprint) {
            return Ok(Err(ChargeRefusal::KeyMismatch {
                key: req.idempotency_key.clone(),
                what,
            }));
        }
        Ok(Ok((self.current(line.record).await?, created)))
    }

    /// A succeeded charge as it stands now: `refunded` once the order's succeeded charges are
    /// refunded in full, with `refunded_amount` whenever any was, so a replay never presents
    /// money given back as money taken. Other lines are final as stored.
    async fn current(&self, mut rec: PaymentRecord) -> Result<PaymentRecord, sqlx::Error> {
        if rec.kind != "charge" || rec.status != "succeeded" {
            return Ok(rec);
        }
        let row = sqlx::query(
            "SELECT
                 CAST(COALESCE(SUM(CASE WHEN kind = 'charge' THEN amount ELSE 0 END), 0) AS BIGINT)
                     AS charged,
                 CAST(COALESCE(SUM(CASE WHEN kind = 'refund' THEN amount ELSE 0 END), 0) AS BIGINT)
                     AS refunded
             FROM payments WHERE order_id = $1 AND status = 'succeeded'",
        )
        .bind(&rec.order_id)
        .fetch_one(&self.db.pool)
        .await?;
        let (charged, refunded): (i64, i64) = (row.get("charged"), row.get("refunded"));
        if refunded > 0 {
            rec.refunded_amount = Some(refunded);
            if refunded >= charged {
                rec.status = "refunded".to_owned();
            }
        }
        Ok(rec)
    }

    /// The sum of the order's succeeded charges.
    /// The order's succeeded lines of `kind` (`charge` or `refund`), summed.
    async fn succeeded(&self, order_id: &str, kind: &str) -> Result<i64, sqlx::Error> {
        Ok(sqlx::query(
            "SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) AS total FROM payments
             WHERE order_id = $1 AND kind = $2 AND status = 'succeeded'",
        )
        .bind(order_id)
        .bind(kind)
        .fetch_one(&self.db.pool)
        .await?
        .get("total"))
    }

    /// Refund up to what the order was charged. The inner `Err` is a refusal to explain to
    /// the caller: only [`RefundRefusal::NoSucceededCharge`] means nothing is owed.
    ///
    /// With `void_charge_key`, "nothing is owed" is made to stay true: a tombstone (a `voided`
    /// charge) is inserted once under that key, so a charge still on its way with it moves no
    /// money. A charge that wins the race to the key is seen by the second look and refunded.
    pub async fn refund(
        &self,
        req: &RefundRequest,
    ) -> Result<Result<(PaymentRecord, bool), RefundRefusal>, sqlx::Error> {
        if let Some(row) = sqlx::query("SELECT * FROM payments WHERE idempotency_key = $1")
            .bind(&req.idempotency_key)
            .fetch_optional(&self.db.pool)
            .await?
        {
            // The same refund again answers it; the key used for anything else is refused,
            // as a charge key is.
            let r = record(&row);
            if r.kind != "refund" || r.order_id != req.order_id || r.amount != req.amount {
                return Ok(Err(RefundRefusal::KeyMismatch {
                    key: req.idempotency_key.clone(),
                    what: format!("a {} of {} won for order {}", r.kind, r.amount, r.order_id),
                }));
            }
            return Ok(Ok((r, false)));
        }
        let mut charged = self.succeeded(&req.order_id, "charge").await?;
        if charged == 0
            && let Some(void_key) = req.void_charge_key.as_deref()
        {
            self.insert_once(NewLine {
                key: void_key,
                order_id: &req.order_id,
                kind: "charge",
                amount: req.amount,
                status: "voided",
                card_fingerprint: None,
            })
            .await?;
            // Whichever insert won the key is committed now: look again, so a charge that
            // landed between the first look and the tombstone is refunded, not left taken.
            charged = self.succeeded(&req.order_id, "charge").await?;
        }
        if charged == 0 {
            return Ok(Err(RefundRefusal::NoSucceededCharge {
                order_id: req.order_id.clone(),
            }));
        }
        // What was refunded already under other keys counts against the charge: refunds
        // never add up to more than was taken. (Checked, then inserted: two refunds of one
        // order under different keys at the same instant could both pass on PostgreSQL; the
        // worker refunds an order under one key only, and a real PSP holds this rule.)
        let refundable = charged - self.succeeded(&req.order_id, "refund").await?;
        if req.amount > refundable {
            return Ok(Err(RefundRefusal::ExceedsCharge {
                order_id: req.order_id.clone(),
                requested: req.amount,
                charged,
                refundable,
            }));
        }
        self.insert_once(NewLine {
            key: &req.idempotency_key,
            order_id: &req.order_id,
            kind: "refund",
            amount: req.amount,
            status: "succeeded",
            card_fingerprint: None,
        })
        .await
        .map(|(line, created)| Ok((line.record, created)))
    }

    /// Every line (tombstones included, as `voided` charges), oldest first.
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

    fn refund_req(order_id: &str, amount: i64, void: bool) -> RefundRequest {
        RefundRequest {
            idempotency_key: format!("{order_id}:refund"),
            order_id: order_id.into(),
            amount,
            void_charge_key: void.then(|| order_id.to_owned()),
        }
    }

    async fn ledger() -> Ledger {
        Ledger::open(&baedal_db::scratch_url().await).await.unwrap()
    }

    #[tokio::test]
    async fn same_key_charges_once() {
        let l = ledger().await;
        let req = charge_req("ord_1", "ord_1");
        let (a, created_a) = l.charge(&req, true).await.unwrap().unwrap();
        let (b, created_b) = l.charge(&req, true).await.unwrap().unwrap();
        assert!(created_a && !created_b);
        assert_eq!(a, b);
        assert_eq!(l.list(Some("ord_1")).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refunds_need_a_succeeded_charge_and_happen_once() {
        let l = ledger().await;
        let refund = |amount| refund_req("ord_2", amount, false);
        assert_eq!(
            l.refund(&refund(10_000)).await.unwrap().unwrap_err().code(),
            PaymentCode::NoSucceededCharge,
            "nothing charged"
        );
        l.charge(&charge_req("attempt-1", "ord_2"), false)
            .await
            .unwrap()
            .unwrap();
        assert!(
            l.refund(&refund(10_000)).await.unwrap().is_err(),
            "declined charge"
        );
        l.charge(&charge_req("attempt-2", "ord_2"), true)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            l.refund(&refund(20_000)).await.unwrap().unwrap_err().code(),
            PaymentCode::RefundExceedsCharge,
            "more than charged"
        );
        let (r1, c1) = l.refund(&refund(10_000)).await.unwrap().unwrap();
        let (r2, c2) = l.refund(&refund(10_000)).await.unwrap().unwrap();
        assert!(c1 && !c2);
        assert_eq!(r1.id, r2.id);
        // Its key for another amount, or a charge's key as a refund's: refused, not answered
        // with the first record.
        let mut other = refund(1);
        assert_eq!(
            l.refund(&other).await.unwrap().unwrap_err().code(),
            PaymentCode::IdempotencyKeyMismatch
        );
        other.idempotency_key = "attempt-2".into();
        other.amount = 10_000;
        assert_eq!(
            l.refund(&other).await.unwrap().unwrap_err().code(),
            PaymentCode::IdempotencyKeyMismatch
        );
        // A second refund under a new key: nothing is left to refund.
        other.idempotency_key = "ord_2:second".into();
        assert_eq!(
            l.refund(&other).await.unwrap().unwrap_err().code(),
            PaymentCode::RefundExceedsCharge
        );
        let refunds = l
            .list(Some("ord_2"))
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.kind == "refund")
            .count();
        assert_eq!(refunds, 1);
    }

    #[tokio::test]
    async fn a_key_reused_with_another_amount_or_card_is_refused() {
        let l = ledger().await;
        let first = charge_req("ord_3", "ord_3");
        l.charge(&first, true).await.unwrap().unwrap();
        let more = ChargeRequest {
            amount: 12_000,
            ..first.clone()
        };
        let other_card = ChargeRequest {
            card_token: "tok_other".into(),
            ..first.clone()
        };
        let other_order = ChargeRequest {
            order_id: "ord_other".into(),
            ..first.clone()
        };
        for (req, approved) in [(&more, true), (&other_card, false), (&other_order, true)] {
            let refusal = l.charge(req, approved).await.unwrap().unwrap_err();
            assert_eq!(refusal.code(), PaymentCode::IdempotencyKeyMismatch);
            assert!(refusal.to_string().contains("new idempotency key"));
        }
        let lines = l.list(None).await.unwrap();
        assert_eq!(lines.len(), 1, "no money moved: {lines:?}");
        assert_eq!(
            (lines[0].amount, lines[0].status.as_str()),
            (10_000, "succeeded")
        );
    }

    #[tokio::test]
    async fn the_card_is_kept_as_a_fingerprint_and_old_rows_compare_by_amount() {
        let l = ledger().await;
        l.charge(&charge_req("ord_4", "ord_4"), true)
            .await
            .unwrap()
            .unwrap();
        let kept: Option<String> =
            sqlx::query("SELECT card_fingerprint FROM payments WHERE idempotency_key = 'ord_4'")
                .fetch_one(&l.db.pool)
                .await
                .unwrap()
                .get("card_fingerprint");
        assert_eq!(kept.as_deref(), Some(card_fingerprint("tok_ok").as_str()));
        assert_ne!(kept.as_deref(), Some("tok_ok"), "never the token itself");
        // A line written before fingerprints were kept.
        sqlx::query(
            "INSERT INTO payments (id, idempotency_key, order_id, kind, amount, status, created_at)
             VALUES ('pay_old', 'ord_5', 'ord_5', 'charge', 10000, 'succeeded', '2024-01-01T00:00:00.000Z')",
        )
        .execute(&l.db.pool)
        .await
        .unwrap();
        let any_card = ChargeRequest {
            card_token: "tok_whatever".into(),
            ..charge_req("ord_5", "ord_5")
        };
        let (rec, created) = l.charge(&any_card, true).await.unwrap().unwrap();
        assert!(!created);
        assert_eq!(rec.id, "pay_old");
        let other_amount = ChargeRequest {
            amount: 1,
            ..any_card
        };
        assert!(l.charge(&other_amount, true).await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_replay_answers_the_charge_as_it_stands_now() {
        let l = ledger().await;
        let req = charge_req("ord_6", "ord_6");
        l.charge(&req, true).await.unwrap().unwrap();
        let partial = RefundRequest {
            idempotency_key: "ord_6:partial".into(),
            ..refund_req("ord_6", 4_000, false)
        };
        l.refund(&partial).await.unwrap().unwrap();
        let (rec, _) = l.charge(&req, true).await.unwrap().unwrap();
        assert_eq!(
            (rec.status.as_str(), rec.refunded_amount),
            ("succeeded", Some(4_000))
        );
        l.refund(&refund_req("ord_6", 6_000, false))
            .await
            .unwrap()
            .unwrap();
        let (rec, created) = l.charge(&req, true).await.unwrap().unwrap();
        assert!(!created);
        assert_eq!(
            (rec.status.as_str(), rec.refunded_amount, rec.amount),
            ("refunded", Some(10_000), 10_000)
        );
    }

    #[tokio::test]
    async fn a_tombstone_refuses_a_late_charge() {
        let l = ledger().await;
        let refusal = l
            .refund(&refund_req("ord_7", 10_000, true))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(
            refusal.code(),
            PaymentCode::NoSucceededCharge,
            "the worker relies on it"
        );
        let lines = l.list(None).await.unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(
            (lines[0].kind.as_str(), lines[0].status.as_str()),
            ("charge", "voided")
        );
        let (rec, created) = l
            .charge(&charge_req("ord_7", "ord_7"), true)
            .await
            .unwrap()
            .unwrap();
        assert!(!created);
        assert_eq!(rec.status, "voided");
        // The refund asked again still owes nothing, and writes nothing more.
        assert!(
            l.refund(&refund_req("ord_7", 10_000, true))
                .await
                .unwrap()
                .is_err()
        );
        assert_eq!(l.list(None).await.unwrap(), lines);
    }

    /// A charge and the refund voiding its key, at once: exactly one line holds the key and
    /// either no money moved or all of it came back.
    #[tokio::test]
    async fn a_charge_racing_its_tombstone_ends_with_one_line_and_no_money_kept() {
        let l = ledger().await;
        for i in 0..20 {
            let order = format!("ord_race_{i}");
            let charge = charge_req(&order, &order);
            let refund = refund_req(&order, 10_000, true);
            let (charged, refunded) = tokio::join!(l.charge(&charge, true), l.refund(&refund));
            let (charged, _) = charged.unwrap().unwrap();
            let refunded = refunded.unwrap();
            let lines = l.list(Some(&order)).await.unwrap();
            let charges: Vec<_> = lines.iter().filter(|r| r.kind == "charge").collect();
            assert_eq!(charges.len(), 1, "one line for the key: {lines:?}");
            match charges[0].status.as_str() {
                "voided" => {
                    assert_eq!(charged.status, "voided");
                    assert_eq!(refunded.unwrap_err().code(), PaymentCode::NoSucceededCharge);
                    assert_eq!(lines.len(), 1);
                }
                "succeeded" => {
                    let (r, _) = refunded.expect("a charge that won the key is refunded");
                    assert_eq!((r.kind.as_str(), r.amount), ("refund", 10_000));
                }
                other => panic!("unexpected charge status {other}"),
            }
        }
    }
}

#[cfg(test)]
mod online_migrations {
    /// Migrations from this version on are applied to a live database (issue 20's rule): none
    /// may hold a long lock on a table in use (see `baedal_db::check_online_safe`).
    #[test]
    fn new_migrations_of_the_ledger_never_lock_a_live_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
        assert_eq!(baedal_db::check_online_safe(&dir, 3), Vec::<String>::new());
    }
}
