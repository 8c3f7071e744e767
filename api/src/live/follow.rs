//! Following the change log for one stream: what each change shows on it, catching up from
//! the database after a reconnect or a lag (or, too far behind, a reset to the current state),
//! and the arrival estimates of an order stream.

use crate::eta::eta_of;
use crate::views::{Viewer, eta_for, order_for, orders_for};
use axum::response::sse::Event;
use baedal_domain::delivery::{offered_at, on_the_board};
use baedal_domain::eta::en_route;
use baedal_domain::{DeliveryCard, OrderStatus, OrderView};
use baedal_readmodel::{Change, Changes, Feed, LogCursor, ReadModel, Scope, Subscription};
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Changes read from the log per catch-up step.
const BATCH: u32 = 200;
/// The most open orders a store stream's reset carries (the rest: `GET /v1/store/orders` from
/// its `next_cursor`).
const RESET_ORDERS: u32 = 100;
/// The most deliveries a rider stream's reset carries, nearest first (the board's default).
const RESET_DELIVERIES: usize = 50;

/// What one stream shows and how far it got.
pub(super) enum Kind {
    /// One order's status changes, by `seq` (`None`: not connected yet; start at the current
    /// status), and its latest view (for the arrival estimate while a rider is on the way).
    Order {
        id: String,
        sent_seq: Option<u32>,
        view: Option<Arc<OrderView>>,
        /// Who follows it: the order goes out as they see it (`crate::views`).
        viewer: Viewer,
    },
    /// Every change of one store's orders, by log place (`None`: from whatever comes next).
    Store {
        store_id: String,
        cursor: Option<LogCursor>,
    },
    /// Deliveries appearing on the board near a rider, or taken from it, by log place.
    Rider {
        lat: f64,
        lon: f64,
        radius_km: f64,
        cursor: Option<LogCursor>,
    },
}

/// What a stream does before it follows the feed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    /// Nothing: follow the feed.
    Nothing,
    /// Read the log back from the stream's place (an order stream: the order's current view).
    CatchUp,
    /// The stream fell behind the feed: catch up or, too far behind, reset.
    Lagged,
    /// Send the current state (`event: reset`), then follow.
    Reset,
}

impl Kind {
    /// Skip `c` when the stream already went past it; otherwise move the stream's place to it.
    fn passes(cursor: &mut Option<LogCursor>, c: &Change) -> bool {
        if cursor.is_some_and(|k| c.cursor() <= k) {
            return false;
        }
        *cursor = Some(c.cursor());
        true
    }

    /// The events `c` makes on this stream (none if it is not this stream's or already sent).
    fn events(&mut self, c: &Change) -> Vec<Event> {
        match self {
            Kind::Order { id, .. } if c.order.id != *id => Vec::new(),
            Kind::Order { .. } => self.view_events(&c.order),
            Kind::Store { store_id, cursor } => {
                if !Self::passes(cursor, c) || c.order.store_id != *store_id || !c.is_current() {
                    return Vec::new();
                }
                let order = order_for(Viewer::StoreOwner, &c.order, None);
                vec![event(c.order.status, c.pos.to_string(), &order)]
            }
            Kind::Rider {
                lat,
                lon,
                radius_km,
                cursor,
            } => {
                if !Self::passes(cursor, c) {
                    return Vec::new();
                }
                let o = &c.order;
                let Some(d) = offered_at(o, *lat, *lon, *radius_km) else {
                    return Vec::new();
                };
                if c.is_current() && on_the_board(o) {
                    vec![event(o.status, c.pos.to_string(), &DeliveryCard::new(o, d))]
                } else if left_the_board(c) {
                    // Told as the step that took it off (the order may have moved on since).
                    let card = DeliveryCard {
                        status: c.status,
                        ..DeliveryCard::new(o, d)
                    };
                    vec![event(c.status, c.pos.to_string(), &card)]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// An order stream's events for the order's view `o`: each history entry it has not sent.
    fn view_events(&mut self, o: &Arc<OrderView>) -> Vec<Event> {
        let Kind::Order {
            sent_seq,
            view,
            viewer,
            ..
        } = self
        else {
            return Vec::new();
        };
        if view.as_ref().is_none_or(|v| v.version < o.version) {
            *view = Some(o.clone());
        }
        let from = sent_seq.unwrap_or(o.seq.saturating_sub(1));
        let seen = order_for(*viewer, o, None);
        let evs = o
            .history
            .iter()
            .filter(|h| h.seq > from)
            .map(|h| {
                let data = json!({"order_id": o.id, "seq": h.seq, "status": h.status,
                    "at": h.at, "reason": h.reason, "order": seen});
                event(h.status, format!("{}:{}", o.id, h.seq), &data)
            })
            .collect();
        *sent_seq = Some(from.max(o.seq));
        evs
    }

    /// Which rows of the log this stream reads back.
    fn changes(&self) -> Changes<'_> {
        match self {
            Kind::Store { store_id, .. } => Changes::Store(store_id),
            Kind::Order { .. } | Kind::Rider { .. } => Changes::All,
        }
    }

    fn cursor(&self) -> Option<LogCursor> {
        match self {
            Kind::Store { cursor, .. } | Kind::Rider { cursor, .. } => *cursor,
            Kind::Order { .. } => None,
        }
    }

    /// After a lag: catch up from the stream's place, or reset when it has none or is too far
    /// behind for a catch-up.
    async fn after_lag(&self, rm: &ReadModel) -> baedal_readmodel::Result<Pending> {
        if matches!(self, Kind::Order { .. }) {
            return Ok(Pending::CatchUp);
        }
        let Some(cursor) = self.cursor() else {
            return Ok(Pending::Reset);
        };
        Ok(if rm.too_far_behind(cursor, self.changes()).await? {
            Pending::Reset
        } else {
            Pending::CatchUp
        })
    }

    /// Read back what the stream has not sent yet (one batch, in its turn among the process's
    /// catch-ups); answers whether there is more.
    async fn catch_up(
        &mut self,
        rm: &ReadModel,
        feed: &Feed,
    ) -> baedal_readmodel::Result<(Vec<Event>, bool)> {
        let _turn = feed.catch_up_turn().await;
        if let Kind::Order { id, .. } = self {
            // From the order's current view, not the log: an order older than the log's
            // horizon still resumes.
            let Some(o) = rm.get_order(id).await? else {
                return Ok((Vec::new(), false));
            };
            return Ok((self.view_events(&Arc::new(o)), false));
        }
        let Some(after) = self.cursor() else {
            return Ok((Vec::new(), false));
        };
        let batch = rm.changes_after(after, self.changes(), BATCH).await?;
        let events = batch.changes.iter().flat_map(|c| self.events(c)).collect();
        if let Kind::Store { cursor, .. } | Kind::Rider { cursor, .. } = self {
            *cursor = Some(batch.next);
        }
        Ok((events, batch.full))
    }

    /// The current state as one `event: reset` (no id), read from the orders view and its
    /// indexes, never from the log; the stream then takes every change the feed brings.
    async fn reset(&mut self, rm: &ReadModel) -> baedal_readmodel::Result<Option<Event>> {
        let data = match self {
            Kind::Order { .. } => return Ok(None),
            Kind::Store { store_id, cursor } => {
                *cursor = None;
                let page = rm.open_orders(Scope::Store(store_id), RESET_ORDERS).await?;
                let mut data = json!({ "orders": orders_for(Viewer::StoreOwner, &page.orders) });
                if let Some(c) = page.next_cursor {
                    data["next_cursor"] = c.encode().into();
                }
                data
            }
            Kind::Rider {
                lat,
                lon,
                radius_km,
                cursor,
            } => {
                *cursor = None;
                let offers = rm
                    .ready_deliveries_near(*lat, *lon, *radius_km, None, RESET_DELIVERIES)
                    .await?;
                let cards: Vec<_> = offers
                    .iter()
                    .map(|o| DeliveryCard::new(&o.order, o.distance_km))
                    .collect();
                json!({ "deliveries": cards })
            }
        };
        Ok(Some(
            Event::default()
                .event("reset")
                .json_data(&data)
                .unwrap_or_else(|_| Event::default().comment("unencodable event")),
        ))
    }
}

/// Whether `c`'s step took the order off the rider board (claimed, or canceled while
/// waiting): riders who saw it there are told it is gone. Judged from the row's step and the
/// step before it in the order's current history, so it holds even when the stream sees the
/// row only after the order moved on.
fn left_the_board(c: &Change) -> bool {
    c.status != OrderStatus::ReadyForPickup
        && c.status_before() == Some(OrderStatus::ReadyForPickup)
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
    feed: Feed,
    sub: Subscription,
    kind: Kind,
    backlog: VecDeque<Event>,
    pending: Pending,
    /// Order streams: how often to look for a new rider position, and what the last estimate
    /// sent was made from.
    eta: Option<(tokio::time::Interval, Option<String>)>,
}

/// How often an order stream looks for a new position of the order's rider (a rider's app
/// reports every few seconds).
pub const ETA_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

impl Follow {
    /// Follow `kind` from `sub` (the feed), doing `pending` first; an order stream also looks
    /// for new rider positions every [`ETA_EVERY`].
    pub(super) fn new(
        rm: ReadModel,
        feed: Feed,
        sub: Subscription,
        kind: Kind,
        pending: Pending,
    ) -> Self {
        let eta = matches!(kind, Kind::Order { .. }).then(|| {
            let mut tick = tokio::time::interval(ETA_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            (tick, None)
        });
        Follow {
            rm,
            feed,
            sub,
            kind,
            backlog: VecDeque::new(),
            pending,
            eta,
        }
    }

    /// An `eta` event (no id: it is not part of the resumable history) when the order's rider
    /// reported a position since the last one sent; `None` otherwise.
    async fn new_eta(&mut self) -> Option<Event> {
        let Kind::Order {
            id,
            view: Some(v),
            viewer,
            ..
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
        let estimate = eta_for(*viewer, eta_of(v, Some(&location), chrono::Utc::now())?);
        *sent = Some(key);
        Event::default()
            .event("eta")
            .json_data(json!({"order_id": id, "status": v.status, "eta": estimate}))
            .ok()
    }

    /// Do what is pending (one step).
    async fn settle(&mut self) -> baedal_readmodel::Result<()> {
        match self.pending {
            Pending::Nothing => {}
            Pending::Lagged => self.pending = self.kind.after_lag(&self.rm).await?,
            Pending::CatchUp => {
                let (events, more) = self.kind.catch_up(&self.rm, &self.feed).await?;
                self.backlog.extend(events);
                if more {
                    // Other streams' turn before the next batch.
                    tokio::task::yield_now().await;
                } else {
                    self.pending = Pending::Nothing;
                }
            }
            Pending::Reset => {
                // A reset reads as much as a catch-up batch: it takes a turn too.
                let turn = self.feed.catch_up_turn().await;
                let reset = self.kind.reset(&self.rm).await?;
                drop(turn);
                metrics::counter!("baedal_sse_resets_total").increment(1);
                self.backlog.extend(reset);
                self.pending = Pending::Nothing;
            }
        }
        Ok(())
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
            if self.pending != Pending::Nothing {
                if let Err(e) = self.settle().await {
                    // The client reconnects with its Last-Event-ID and loses nothing.
                    tracing::warn!(error = %e, "live stream could not read the read model; closing it");
                    return None;
                }
                continue;
            }
            let received = tokio::select! {
                r = self.sub.recv() => r,
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
                    self.pending = Pending::Lagged;
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baedal_readmodel::{FEED_CAPACITY, FollowSettings, Interest, STORE_RESUME_WINDOW};
    use serde_json::json;
    use std::time::Duration;

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

    fn of_store(id: &str, store: &str) -> OrderView {
        let mut v = view(id, 1, "placed");
        v.store_id = store.into();
        v
    }

    async fn follower(rm: &ReadModel) -> Feed {
        rm.follow(FollowSettings {
            sqlite_poll: Duration::from_millis(10),
            postgres_poll: Duration::from_millis(50),
            listen_url: None,
        })
        .await
        .unwrap()
    }

    /// The stream's next event, as the client would read it (`None`: nothing within a while).
    async fn next_event(follow: Follow) -> (Option<String>, Follow) {
        match tokio::time::timeout(Duration::from_secs(30), follow.next()).await {
            Ok(Some((Ok(e), f))) => (Some(format!("{e:?}")), f),
            _ => panic!("the stream ended or stalled"),
        }
    }

    /// The feed's readers wait for the follower to have read everything committed so far.
    async fn drained(feed: &Feed, rm: &ReadModel, probe: &str) {
        let mut sub = feed.subscribe(Interest::Order(probe.into())).await.unwrap();
        rm.project(&of_store(probe, "st_probe")).await.unwrap();
        loop {
            let c = tokio::time::timeout(Duration::from_secs(30), sub.recv())
                .await
                .expect("the probe arrives")
                .expect("the feed is open");
            if c.order.id == probe {
                return;
            }
        }
    }

    /// A stream that falls behind the feed (its client reads slowly) is not buffered for: it
    /// is told it lagged, and reads what it missed from the log, in order, each once.
    #[tokio::test]
    async fn a_store_stream_that_lags_behind_the_feed_catches_up_from_the_log_without_repeats() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        let feed = follower(&rm).await;
        let sub = feed
            .subscribe(Interest::Store("st_1".into()))
            .await
            .unwrap();
        // Another store's stream keeps the follower reading st_2 too: its rows fill the feed.
        let _busy = feed
            .subscribe(Interest::Store("st_2".into()))
            .await
            .unwrap();
        let mut follow = Follow::new(
            rm.clone(),
            feed.clone(),
            sub,
            Kind::Store {
                store_id: "st_1".into(),
                cursor: None,
            },
            Pending::Nothing,
        );
        // The stream has a place in the log: what it saw last.
        rm.project(&of_store("seen", "st_1")).await.unwrap();
        let (e, f) = next_event(follow).await;
        follow = f;
        assert!(e.unwrap().contains("seen"));
        let mut mine = Vec::new();
        for n in 0..10 {
            let id = format!("o{n}");
            rm.project(&of_store(&id, "st_1")).await.unwrap();
            mine.push(id);
        }
        let busy: Vec<_> = (0..FEED_CAPACITY + 10)
            .map(|n| of_store(&format!("b{n}"), "st_2"))
            .collect();
        rm.project_many(&busy).await.unwrap();
        drained(&feed, &rm, "probe").await;

        let mut got = Vec::new();
        for _ in 0..10 {
            let (e, f) = next_event(follow).await;
            follow = f;
            let e = e.unwrap();
            assert!(e.contains("st_1"), "{e}");
            got.push(e);
            assert!(follow.backlog.len() <= BATCH as usize);
        }
        for (e, id) in got.iter().zip(&mine) {
            assert!(
                e.contains(&format!("\\\"id\\\":\\\"{id}\\\"")),
                "{id} in order: {e}"
            );
        }
        // What the feed still held after the lag is skipped, not repeated; the next change of
        // the store comes once.
        rm.project(&of_store("later", "st_1")).await.unwrap();
        let (e, _) = next_event(follow).await;
        assert!(e.unwrap().contains("later"));
    }

    /// A store stream too far behind for a catch-up gets the store's open orders as one
    /// `reset` event without an id, then follows live.
    #[tokio::test]
    async fn a_store_stream_too_far_behind_gets_a_reset_with_the_open_orders() {
        let rm = ReadModel::open(&baedal_db::scratch_url().await)
            .await
            .unwrap();
        rm.project(&of_store("first", "st_1")).await.unwrap();
        let feed = follower(&rm).await;
        let closed: Vec<_> = (0..STORE_RESUME_WINDOW + 1)
            .map(|n| view(&format!("c{n}"), 1, "completed"))
            .collect();
        rm.project_many(&closed).await.unwrap();
        rm.project(&of_store("open", "st_1")).await.unwrap();
        let first_pos = 1 + sqlx_free_first_pos(&rm).await;
        let which = Changes::Store("st_1");
        assert_eq!(
            rm.resume(first_pos, which).await.unwrap(),
            baedal_readmodel::Resume::Reset
        );
        let sub = feed
            .subscribe(Interest::Store("st_1".into()))
            .await
            .unwrap();
        let follow = Follow::new(
            rm.clone(),
            feed.clone(),
            sub,
            Kind::Store {
                store_id: "st_1".into(),
                cursor: None,
            },
            Pending::Reset,
        );
        let (e, follow) = next_event(follow).await;
        let e = e.unwrap();
        assert!(e.starts_with("Event") && e.contains("reset"), "{e}");
        assert!(!e.contains("id: "), "a reset has no id: {e}");
        assert!(
            e.contains("\\\"first\\\"") && e.contains("\\\"open\\\""),
            "{e}"
        );
        assert!(!e.contains("\\\"c0\\\""), "only open orders: {e}");
        // Then live. (On PostgreSQL, rows committed just before the subscription but above
        // the watermark then may come too: the state again, never a gap.)
        rm.project(&of_store("after", "st_1")).await.unwrap();
        let mut follow = follow;
        loop {
            let (e, f) = next_event(follow).await;
            follow = f;
            let e = e.unwrap();
            assert!(!e.contains("reset"), "one reset: {e}");
            if e.contains("after") {
                break;
            }
        }
    }

    /// A rider who saw a delivery on the board hears it left even when the stream reads the
    /// claim's row only after the order moved on (the row's version is no longer current).
    #[test]
    fn a_claim_seen_after_the_pickup_still_takes_the_card_off_the_board() {
        let mut picked = view("d1", 5, "picked_up");
        let steps = [
            "placed",
            "accepted",
            "cooking",
            "ready_for_pickup",
            "rider_assigned",
        ];
        for (h, status) in picked.history.iter_mut().zip(steps) {
            h.status = status.parse().unwrap();
        }
        picked.history[4].status = OrderStatus::RiderAssigned;
        picked.history.push(baedal_domain::HistoryEntry {
            seq: 6,
            status: OrderStatus::PickedUp,
            at: "2026-01-01T00:00:06Z".into(),
            reason: None,
        });
        picked.seq = 6;
        picked.version = 6;
        picked.rider_id = Some("r1".into());
        let order = Arc::new(picked);
        let row = |pos, seq: u32, status: OrderStatus| Change {
            pos,
            xid: 0,
            version: seq,
            seq,
            status,
            order: order.clone(),
        };
        let mut rider = Kind::Rider {
            lat: 37.5,
            lon: 127.0,
            radius_km: 3.0,
            cursor: None,
        };
        let on_board = rider.events(&row(4, 4, OrderStatus::ReadyForPickup));
        assert!(on_board.is_empty(), "no longer on the board: not offered");
        let left = rider.events(&row(5, 5, OrderStatus::RiderAssigned));
        assert_eq!(left.len(), 1);
        let e = format!("{:?}", left[0]);
        assert!(e.contains("event: rider_assigned"), "{e}");
        assert!(e.contains("\\\"status\\\":\\\"rider_assigned\\\""), "{e}");
        assert!(rider.events(&row(6, 6, OrderStatus::PickedUp)).is_empty());
        // Already past: a row again (the feed after a catch-up) says nothing twice.
        assert!(
            rider
                .events(&row(5, 5, OrderStatus::RiderAssigned))
                .is_empty()
        );
    }

    /// The position of the log's first row, less one (the tests' logs start empty).
    async fn sqlx_free_first_pos(rm: &ReadModel) -> i64 {
        let batch = rm
            .changes_after(baedal_readmodel::LogCursor::START, Changes::All, 1)
            .await
            .unwrap();
        batch.changes.first().map_or(0, |c| c.pos - 1)
    }
}
