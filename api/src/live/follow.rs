//! Following the change log for one stream: what each change shows on it, catching up from
//! the database after a reconnect or a lag, and the arrival estimates of an order stream.

use crate::eta::eta_of;
use axum::response::sse::Event;
use baedal_domain::delivery::{offered_at, on_the_board};
use baedal_domain::eta::en_route;
use baedal_domain::{DeliveryCard, OrderStatus, OrderView};
use baedal_readmodel::{Change, Changes, ReadModel};
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// Changes read from the log per catch-up step.
const BATCH: u32 = 200;

/// What one stream shows and how far it got.
pub(super) enum Kind {
    /// One order's status changes, by `seq` (`None`: not connected yet; start at the current
    /// status), and its latest view (for the arrival estimate while a rider is on the way).
    Order {
        id: String,
        sent_seq: Option<u32>,
        view: Option<Box<OrderView>>,
    },
    /// Every change of one store's orders, by log position.
    Store { store_id: String, sent_pos: i64 },
    /// Deliveries appearing on the board near a rider, or taken from it, by log position.
    Rider {
        lat: f64,
        lon: f64,
        radius_km: f64,
        sent_pos: i64,
    },
}

impl Kind {
    /// The events `c` makes on this stream (none if it is not this stream's or already sent).
    fn events(&mut self, c: &Change) -> Vec<Event> {
        let o = &c.order;
        match self {
            Kind::Order { id, sent_seq, view } => {
                if o.id != *id {
                    return Vec::new();
                }
                if view.as_ref().is_none_or(|v| v.version < o.version) {
                    *view = Some(Box::new(o.clone()));
                }
                let from = sent_seq.unwrap_or(o.seq.saturating_sub(1));
                let evs = o
                    .history
                    .iter()
                    .filter(|h| h.seq > from)
                    .map(|h| {
                        let data = json!({"order_id": o.id, "seq": h.seq, "status": h.status,
                            "at": h.at, "reason": h.reason, "order": o});
                        event(h.status, format!("{}:{}", o.id, h.seq), &data)
                    })
                    .collect();
                *sent_seq = Some(from.max(o.seq));
                evs
            }
            Kind::Store { store_id, sent_pos } => {
                if c.pos <= *sent_pos {
                    return Vec::new();
                }
                *sent_pos = c.pos;
                if o.store_id != *store_id {
                    return Vec::new();
                }
                vec![event(o.status, c.pos.to_string(), o)]
            }
            Kind::Rider {
                lat,
                lon,
                radius_km,
                sent_pos,
            } => {
                if c.pos <= *sent_pos {
                    return Vec::new();
                }
                *sent_pos = c.pos;
                let Some(d) = offered_at(o, *lat, *lon, *radius_km) else {
                    return Vec::new();
                };
                if on_the_board(o) || left_the_board(o) {
                    vec![event(o.status, c.pos.to_string(), &DeliveryCard::new(o, d))]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Read back from the log what the stream has not sent yet (one batch).
    async fn catch_up(&mut self, rm: &ReadModel) -> baedal_readmodel::Result<(Vec<Event>, bool)> {
        let (changes, full) = match self {
            Kind::Order { id, .. } => (rm.latest_change(id).await?.into_iter().collect(), false),
            Kind::Store { store_id, sent_pos } => {
                let batch = rm
                    .changes_after(*sent_pos, Changes::Store(store_id), BATCH)
                    .await?;
                let full = batch.len() == BATCH as usize;
                (batch, full)
            }
            Kind::Rider { sent_pos, .. } => {
                let batch = rm.changes_after(*sent_pos, Changes::All, BATCH).await?;
                let full = batch.len() == BATCH as usize;
                (batch, full)
            }
        };
        let events = changes.iter().flat_map(|c| self.events(c)).collect();
        Ok((events, full))
    }
}

/// Whether `o`'s latest change took it off the rider board (claimed, or canceled while
/// waiting): riders who saw it there are told it is gone.
fn left_the_board(o: &OrderView) -> bool {
    let h = &o.history;
    h.len() >= 2 && h[h.len() - 2].status == OrderStatus::ReadyForPickup
}

fn event(status: OrderStatus, id: String, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(status.as_str())
        .id(id)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unencodable event"))
}

pub(super) struct Follow {
    rm: ReadModel,
    rx: broadcast::Receiver<Arc<Change>>,
    kind: Kind,
    backlog: VecDeque<Event>,
    catch_up: bool,
    /// Order streams: how often to look for a new rider position, and what the last estimate
    /// sent was made from.
    eta: Option<(tokio::time::Interval, Option<String>)>,
}

/// How often an order stream looks for a new position of the order's rider (a rider's app
/// reports every few seconds).
pub const ETA_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

impl Follow {
    /// Follow `kind` from `rx` (the feed), reading back from `rm` (the log) first when
    /// `catch_up`; an order stream also looks for new rider positions every [`ETA_EVERY`].
    pub(super) fn new(
        rm: ReadModel,
        rx: broadcast::Receiver<Arc<Change>>,
        kind: Kind,
        catch_up: bool,
    ) -> Self {
        let eta = matches!(kind, Kind::Order { .. }).then(|| {
            let mut tick = tokio::time::interval(ETA_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            (tick, None)
        });
        Follow {
            rm,
            rx,
            kind,
            backlog: VecDeque::new(),
            catch_up,
            eta,
        }
    }

    /// An `eta` event (no id: it is not part of the resumable history) when the order's rider
    /// reported a position since the last one sent; `None` otherwise.
    async fn new_eta(&mut self) -> Option<Event> {
        let Kind::Order {
            id, view: Some(v), ..
        } = &self.kind
        else {
            return None;
        };
        let rider = v.rider_id.as_deref().filter(|_| en_route(v.status))?;
        let location = match self.rm.rider_location(rider).await {
            Ok(l) => l?,
            Err(e) => {
                tracing::debug!(error = %e, "live stream could not read the rider's position");
                return None;
            }
        };
        // A new report, or the same one after the rider picked the food up (the estimate
        // then runs to the door), makes a new estimate.
        let key = format!("{}|{}", location.at, v.status.as_str());
        let (_, sent) = self.eta.as_mut()?;
        if sent.as_deref() == Some(key.as_str()) {
            return None;
        }
        let estimate = eta_of(v, Some(&location), chrono::Utc::now())?;
        *sent = Some(key);
        Event::default()
            .event("eta")
            .json_data(json!({"order_id": id, "status": v.status, "eta": estimate}))
            .ok()
    }
}

/// The next tick of `eta`'s interval; never, for a stream without one.
async fn eta_tick(eta: &mut Option<(tokio::time::Interval, Option<String>)>) {
    match eta {
        Some((tick, _)) => {
            tick.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl Follow {
    pub(super) async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        loop {
            if let Some(e) = self.backlog.pop_front() {
                return Some((Ok(e), self));
            }
            if self.catch_up {
                match self.kind.catch_up(&self.rm).await {
                    Ok((events, more)) => {
                        self.backlog.extend(events);
                        self.catch_up = more;
                    }
                    Err(e) => {
                        // The client reconnects with its Last-Event-ID and loses nothing.
                        tracing::warn!(error = %e, "live stream could not read the change log; closing it");
                        return None;
                    }
                }
                continue;
            }
            let received = tokio::select! {
                r = self.rx.recv() => r,
                _ = eta_tick(&mut self.eta) => {
                    let eta = self.new_eta().await;
                    self.backlog.extend(eta);
                    continue;
                }
            };
            match received {
                Ok(c) => {
                    let events = self.kind.events(&c);
                    self.backlog.extend(events);
                }
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!("baedal_sse_lagged_total").increment(missed);
                    self.catch_up = true;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(id: &str, seq: u32, status: &str) -> OrderView {
        let history: Vec<_> = (1..=seq)
            .map(|s| json!({"seq": s, "status": status, "at": format!("2026-01-01T00:00:{s:02}Z")}))
            .collect();
        serde_json::from_value(json!({
            "id": id, "status": status, "customer_id": "c1", "store_id": "st_1",
            "store_name": "s", "region": "gangnam", "items": [], "total": 5000,
            "delivery": {"address": "a", "region": "gangnam", "lat": 37.5, "lon": 127.0},
            "pickup": {"store_name": "s", "lat": 37.5, "lon": 127.0},
            "payment": {"id": "p", "status": "succeeded", "amount": 5000},
            "refund": null, "rider_id": null, "history": history,
            "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
            "seq": seq, "version": seq, "search_radius_bonus_km": 0.0
        }))
        .unwrap()
    }

    /// A stream that falls behind the feed (its client reads slowly) is not buffered for: it
    /// is told it lagged, and reads what it missed from the log, in order, each once.
    #[tokio::test]
    async fn a_stream_that_lags_behind_the_feed_catches_up_from_the_log_without_repeats() {
        let rm = ReadModel::open("sqlite::memory:").await.unwrap();
        for n in 0..10 {
            rm.project(&view(&format!("o{n}"), 1, "placed"))
                .await
                .unwrap();
        }
        let changes = rm.changes_after(0, Changes::All, 100).await.unwrap();
        assert_eq!(changes.len(), 10);
        // A feed that holds only 2 changes: the stream's receiver falls 8 behind.
        let (tx, rx) = broadcast::channel(2);
        for c in &changes {
            tx.send(Arc::new(c.clone())).unwrap();
        }
        let mut follow = Follow {
            rm: rm.clone(),
            rx,
            kind: Kind::Store {
                store_id: "st_1".into(),
                sent_pos: 0,
            },
            backlog: VecDeque::new(),
            catch_up: false,
            eta: None,
        };
        for n in 0..10 {
            let (_, next) = follow.next().await.unwrap_or_else(|| panic!("event {n}"));
            follow = next;
            assert!(follow.backlog.len() <= BATCH as usize);
        }
        let Kind::Store { sent_pos, .. } = &follow.kind else {
            unreachable!()
        };
        assert_eq!(*sent_pos, changes.last().unwrap().pos);
        // The two the feed still held arrive after the catch-up and are skipped, not repeated.
        drop(tx);
        assert!(follow.next().await.is_none(), "nothing more, nothing twice");
    }
}
