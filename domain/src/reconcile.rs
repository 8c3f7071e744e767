//! Reconciliation rules: the payment ledger against the orders. Money and orders must agree:
//! every succeeded charge belongs to an order the customer can see (or was refunded), no order
//! is charged twice, and each order that ended owing a refund ([`OrderStatus::owes_refund`], the
//! same rule the workflow refunds by) has exactly one. An order whose workflow was *terminated*
//! (which runs no code, so no refund) and that still holds the customer's money is a refund
//! owed, whatever its last status says. The read model must agree with the engine too: an
//! order's stored version is one its workflow committed ([`drift`]). Pure: `baedal reconcile`
//! fetches, this compares.

use crate::{OrderStatus, OrderView};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

#[derive(Debug, Clone, Deserialize)]
pub struct LedgerLine {
    pub order_id: String,
    pub kind: String,
    pub amount: i64,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Money kept for an order nobody can see.
    ChargeWithoutOrder {
        order_id: String,
        kept: i64,
    },
    DoubleCharge {
        order_id: String,
        charges: usize,
    },
    RefundMissing {
        order_id: String,
        status: OrderStatus,
    },
    DuplicateRefund {
        order_id: String,
        refunds: usize,
    },
    RefundWithoutCause {
        order_id: String,
        status: OrderStatus,
    },
    OrderWithoutCharge {
        order_id: String,
        status: OrderStatus,
    },
    /// The order's workflow was terminated with the customer's money still taken.
    TerminatedWithMoneyKept {
        order_id: String,
        kept: i64,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::ChargeWithoutOrder { order_id, kept } => {
                write!(f, "charge without order: {order_id} keeps {kept} won")
            }
            Mismatch::DoubleCharge { order_id, charges } => {
                write!(f, "double charge: {order_id} charged {charges} times")
            }
            Mismatch::RefundMissing { order_id, status } => {
                write!(f, "refund owed but missing: {order_id} is {status}")
            }
            Mismatch::DuplicateRefund { order_id, refunds } => {
                write!(f, "duplicate refund: {order_id} refunded {refunds} times")
            }
            Mismatch::RefundWithoutCause { order_id, status } => {
                write!(f, "refund without cause: {order_id} is {status}")
            }
            Mismatch::OrderWithoutCharge { order_id, status } => {
                write!(f, "order without charge: {order_id} is {status}")
            }
            Mismatch::TerminatedWithMoneyKept { order_id, kept } => write!(
                f,
                "refund owed but missing: {order_id} was terminated keeping {kept} won \
                 (terminate runs no refund: refund it by hand)"
            ),
        }
    }
}

/// One order's version and status, as the read model or the engine holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub version: u32,
    pub status: OrderStatus,
}

impl Stamp {
    pub fn of(view: &OrderView) -> Self {
        Self {
            version: view.version,
            status: view.status,
        }
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (version {})", self.status, self.version)
    }
}

/// Where the read model and the engine disagree about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The read model shows a change the workflow never committed: a projection runs inside
    /// a workflow task, and a worker that dies before completing the task leaves its write
    /// behind while the engine goes on from durable history without it.
    Phantom {
        order_id: String,
        read: Stamp,
        engine: Stamp,
    },
    /// The read model misses changes the engine committed (a projection given up on, or
    /// still under way).
    Behind {
        order_id: String,
        read: Option<Stamp>,
        engine: Stamp,
    },
}

impl Drift {
    pub fn order_id(&self) -> &str {
        match self {
            Drift::Phantom { order_id, .. } | Drift::Behind { order_id, .. } => order_id,
        }
    }

    /// The version the read model held when compared (`None`: no row), which a repair
    /// replaces only if it is still there.
    pub fn read_version(&self) -> Option<u32> {
        match self {
            Drift::Phantom { read, .. } => Some(read.version),
            Drift::Behind { read, .. } => read.map(|r| r.version),
        }
    }
}

impl fmt::Display for Drift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Drift::Phantom {
                order_id,
                read,
                engine,
            } => write!(
                f,
                "read model shows what the engine never committed: {order_id} reads {read}, \
                 the engine holds {engine} (`baedal reconcile --repair` writes the engine's)"
            ),
            Drift::Behind {
                order_id,
                read: Some(read),
                engine,
            } => write!(
                f,
                "read model behind the engine: {order_id} reads {read}, the engine holds {engine}"
            ),
            Drift::Behind {
                order_id,
                read: None,
                engine,
            } => write!(
                f,
                "read model misses an order: {order_id} is not there, the engine holds {engine}"
            ),
        }
    }
}

/// Compare the read model's view of an order (`None`: no row) with its workflow's. Views of
/// one version agree when they show the same status, rider and history length (a step redone
/// after a worker died may differ in its time only, which misleads no one). A view of another
/// run of the order id (another `created_at`) is the run fence's business, not drift; nor is
/// an attempt that established no order, which the read model never holds.
pub fn drift(read: Option<&OrderView>, engine: &OrderView) -> Option<Drift> {
    let order_id = engine.id.clone();
    let Some(read) = read else {
        // An attempt whose charge did not (or not yet) establish the order is never projected.
        if engine.status == OrderStatus::PaymentFailed || engine.payment.id.is_empty() {
            return None;
        }
        return Some(Drift::Behind {
            order_id,
            read: None,
            engine: Stamp::of(engine),
        });
    };
    if read.created_at != engine.created_at {
        return None;
    }
    let same = |a: &OrderView, b: &OrderView| {
        a.status == b.status && a.seq == b.seq && a.rider_id == b.rider_id
    };
    let (r, e) = (Stamp::of(read), Stamp::of(engine));
    match read.version.cmp(&engine.version) {
        std::cmp::Ordering::Less => Some(Drift::Behind {
            order_id,
            read: Some(r),
            engine: e,
        }),
        std::cmp::Ordering::Equal if same(read, engine) => None,
        _ => Some(Drift::Phantom {
            order_id,
            read: r,
            engine: e,
        }),
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub orders: usize,
    pub ledger_lines: usize,
    pub mismatches: Vec<Mismatch>,
    /// Orders whose workflows were compared with the read model.
    pub engine_orders: usize,
    pub drift: Vec<Drift>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.mismatches.is_empty() && self.drift.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for m in &self.mismatches {
            writeln!(f, "MISMATCH {m}")?;
        }
        for d in &self.drift {
            writeln!(f, "DRIFT {d}")?;
        }
        writeln!(
            f,
            "reconciled {} orders against {} ledger lines: {} mismatches; \
             {} workflows against the read model: {} drifted",
            self.orders,
            self.ledger_lines,
            self.mismatches.len(),
            self.engine_orders,
            self.drift.len()
        )
    }
}

#[derive(Default)]
struct Money {
    charges: usize,
    charged: i64,
    refunds: usize,
    refunded: i64,
}

/// Compare; `orders` maps order id → status; `terminated` are the order ids whose workflows
/// were terminated.
pub fn compare(
    ledger: &[LedgerLine],
    orders: &HashMap<String, OrderStatus>,
    terminated: &HashSet<String>,
) -> Report {
    let mut money: BTreeMap<&str, Money> = BTreeMap::new();
    for l in ledger.iter().filter(|l| l.status == "succeeded") {
        let m = money.entry(l.order_id.as_str()).or_default();
        match l.kind.as_str() {
            "charge" => {
                m.charges += 1;
                m.charged += l.amount;
            }
            "refund" => {
                m.refunds += 1;
                m.refunded += l.amount;
            }
            _ => {}
        }
    }
    let mut mismatches = Vec::new();
    for (id, m) in &money {
        let order_id = id.to_string();
        if m.charges > 1 {
            mismatches.push(Mismatch::DoubleCharge {
                order_id: order_id.clone(),
                charges: m.charges,
            });
        }
        if m.refunds > 1 {
            mismatches.push(Mismatch::DuplicateRefund {
                order_id: order_id.clone(),
                refunds: m.refunds,
            });
        }
        if terminated.contains(*id) {
            if m.charged > m.refunded {
                mismatches.push(Mismatch::TerminatedWithMoneyKept {
                    order_id,
                    kept: m.charged - m.refunded,
                });
            }
            continue;
        }
        match orders.get(*id) {
            None if m.charged > m.refunded => mismatches.push(Mismatch::ChargeWithoutOrder {
                order_id,
                kept: m.charged - m.refunded,
            }),
            None => {}
            Some(status) => {
                let owes = status.owes_refund();
                if owes && m.refunds == 0 {
                    mismatches.push(Mismatch::RefundMissing {
                        order_id,
                        status: *status,
                    });
                } else if !owes && m.refunds > 0 {
                    mismatches.push(Mismatch::RefundWithoutCause {
                        order_id,
                        status: *status,
                    });
                }
            }
        }
    }
    for (id, status) in orders {
        if money.get(id.as_str()).is_none_or(|m| m.charges == 0) {
            mismatches.push(Mismatch::OrderWithoutCharge {
                order_id: id.clone(),
                status: *status,
            });
        }
    }
    Report {
        orders: orders.len(),
        ledger_lines: ledger.len(),
        mismatches,
        ..Report::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(order: &str, kind: &str, status: &str) -> LedgerLine {
        LedgerLine {
            order_id: order.into(),
            kind: kind.into(),
            amount: 10_000,
            status: status.into(),
        }
    }

    fn orders(list: &[(&str, &str)]) -> HashMap<String, OrderStatus> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.parse().unwrap()))
            .collect()
    }

    #[test]
    fn a_consistent_ledger_is_clean() {
        let ledger = vec![
            line("o1", "charge", "succeeded"),
            line("o2", "charge", "succeeded"),
            line("o2", "refund", "succeeded"),
            line("o3", "charge", "declined"),
            // Charged after the customer was told "unavailable", then voided: nets to zero.
            line("o4", "charge", "succeeded"),
            line("o4", "refund", "succeeded"),
        ];
        let terminated = HashSet::from(["o4".to_owned()]);
        let r = compare(
            &ledger,
            &orders(&[("o1", "completed"), ("o2", "canceled")]),
            &terminated,
        );
        assert!(r.is_clean(), "{r}");
    }

    #[test]
    fn every_kind_of_mismatch_is_reported() {
        let ledger = vec![
            line("kept", "charge", "succeeded"),
            line("twice", "charge", "succeeded"),
            line("twice", "charge", "succeeded"),
            line("unrefunded", "charge", "succeeded"),
            line("refunded-twice", "charge", "succeeded"),
            line("refunded-twice", "refund", "succeeded"),
            line("refunded-twice", "refund", "succeeded"),
            line("odd-refund", "charge", "succeeded"),
            line("odd-refund", "refund", "succeeded"),
            line("terminated", "charge", "succeeded"),
        ];
        let r = compare(
            &ledger,
            &orders(&[
                ("twice", "completed"),
                ("unrefunded", "rejected"),
                ("refunded-twice", "canceled"),
                ("odd-refund", "completed"),
                ("free", "placed"),
                // Its last projection says cooking, which owes nothing, but nobody will cook.
                ("terminated", "cooking"),
            ]),
            &HashSet::from(["terminated".to_owned()]),
        );
        let kinds: Vec<_> = r
            .mismatches
            .iter()
            .map(|m| m.to_string().split(':').next().unwrap().to_owned())
            .collect();
        for want in [
            "charge without order",
            "double charge",
            "refund owed but missing",
            "duplicate refund",
            "refund without cause",
            "order without charge",
        ] {
            assert!(
                kinds.iter().any(|k| k == want),
                "{want} missing from {kinds:?}"
            );
        }
        assert!(!r.is_clean());
        assert!(
            r.mismatches.contains(&Mismatch::TerminatedWithMoneyKept {
                order_id: "terminated".into(),
                kept: 10_000
            }),
            "{r}"
        );
    }

    #[test]
    fn the_read_model_drifts_when_it_shows_what_the_engine_never_committed() {
        use crate::eta::tests::order;
        let engine = OrderView {
            version: 4,
            seq: 4,
            ..order(OrderStatus::Placed)
        };
        // Agreeing views, and a redone step that differs only in its time.
        assert_eq!(drift(Some(&engine), &engine), None);
        let retimed = OrderView {
            updated_at: "later".into(),
            ..engine.clone()
        };
        assert_eq!(drift(Some(&retimed), &engine), None);
        // A change the engine never committed: ahead of it, or at its version with another
        // status or rider.
        let ahead = OrderView {
            version: 5,
            seq: 5,
            ..order(OrderStatus::Accepted)
        };
        let phantom = drift(Some(&ahead), &engine).unwrap();
        assert!(matches!(phantom, Drift::Phantom { .. }), "{phantom:?}");
        assert_eq!(phantom.read_version(), Some(5));
        let other_rider = OrderView {
            rider_id: Some("r2".into()),
            ..engine.clone()
        };
        assert!(matches!(
            drift(Some(&other_rider), &engine),
            Some(Drift::Phantom { .. })
        ));
        // Behind the engine, or missing.
        let older = OrderView {
            version: 3,
            ..engine.clone()
        };
        assert!(matches!(
            drift(Some(&older), &engine),
            Some(Drift::Behind { read: Some(_), .. })
        ));
        assert_eq!(drift(None, &engine).unwrap().read_version(), None);
        let failed = OrderView {
            version: 1,
            ..order(OrderStatus::PaymentFailed)
        };
        assert_eq!(drift(None, &failed), None);
        // Another run of the id is the run fence's business.
        let other_run = OrderView {
            created_at: "another start".into(),
            ..ahead
        };
        assert_eq!(drift(Some(&other_run), &engine), None);
    }
}
