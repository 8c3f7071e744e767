//! Live status over server-sent events: a customer's order, a store's orders, and the
//! deliveries near a rider, each change within a second of its commit whichever process
//! wrote it (the events come from the read model's change log through this process's
//! [`Feed`], never from an in-process channel of the writer).
//!
//! While a rider is on the way, the order stream also sends `event: eta` (no id) when the
//! rider has reported a new position: `{order_id, status, eta}`, the estimate a status read
//! carries. It looks every [`ETA_EVERY`], a lookup by the rider's id.
//!
//! `Last-Event-ID` resumes: the order stream's ids are `<order_id>:<seq>` (the event log's
//! key), the store and rider streams' the change log's position. What a reconnecting client
//! missed is read back from the database, then the stream goes live, skipping what it already
//! sent, so nothing arrives twice. A stream that cannot keep up with the feed (a slow client)
//! is told it lagged and catches up from the database one batch at a time: memory per stream
//! stays at most one batch, however slow the client. Comments every `BAEDAL_SSE_HEARTBEAT`
//! (15 s) keep idle connections open through proxies.

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Caller};
use crate::routes::{BoardQuery, valid_board_query, visible_order};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use baedal_auth::Role;
use baedal_domain::delivery::{offered_at, on_the_board};
use baedal_domain::eta::en_route;
use baedal_domain::{DeliveryCard, OrderStatus, OrderView};
use baedal_readmodel::{Change, Changes, ReadModel};
use futures::Stream;
use serde_json::json;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::broadcast::{self, error::RecvError};

/// Changes read from the log per catch-up step.
const BATCH: u32 = 200;

/// What one stream shows and how far it got.
enum Kind {
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

struct Follow {
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
        let estimate = crate::location::eta_of(v, Some(&location), chrono::Utc::now())?;
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
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
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

fn stream(
    state: &AppState,
    kind: Kind,
    catch_up: bool,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let eta = matches!(kind, Kind::Order { .. }).then(|| {
        let mut tick = tokio::time::interval(ETA_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        (tick, None)
    });
    let follow = Follow {
        rm: state.read_model.clone(),
        rx: state.feed.subscribe(),
        kind,
        backlog: VecDeque::new(),
        catch_up,
        eta,
    };
    Sse::new(futures::stream::unfold(follow, Follow::next))
        .keep_alive(KeepAlive::new().interval(state.config.sse_heartbeat))
}

fn last_event_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `Last-Event-ID` of the order stream, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct OrderResume {
    /// Resume after this event (`<order_id>:<seq>`, as the stream sent it).
    #[param(
        rename = "Last-Event-ID",
        pattern = r"^[A-Za-z0-9_-]{1,100}:[0-9]{1,9}$"
    )]
    #[param(required = false)]
    last_event_id: String,
}

/// `Last-Event-ID` of the store and rider streams, as documented.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct StreamResume {
    /// Resume after this stream position (as the stream sent it).
    #[param(rename = "Last-Event-ID", pattern = r"^[0-9]{1,18}$")]
    #[param(required = false)]
    last_event_id: String,
}

fn bad_last_event_id(expected: &str) -> ApiError {
    ApiError::unprocessable(
        "invalid_last_event_id",
        format!(
            "Last-Event-ID must be {expected}, as this stream sent it; reconnect without it to start from now"
        ),
    )
}

/// A stream position as the store and rider streams send it.
fn position(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    last_event_id(headers)
        .map(|v| {
            Some(v)
                .filter(|v| (1..=18).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad_last_event_id("a stream position"))
        })
        .transpose()
}

/// The order's status changes as they happen: the current status first, then each change.
/// With `Last-Event-ID: <order_id>:<seq>`, every change after that seq first.
#[utoipa::path(get, path = "/v1/orders/{id}/events", params(("id" = String, Path), OrderResume),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` `<order_id>:<seq>`, data `{order_id, seq, status, at, reason, order}`; while a rider is on the way also `event: eta` (no id) on each new position, data `{order_id, status, eta}`",
        content_type = "text/event-stream"), (status = 404), (status = 422)))]
pub async fn order_events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    if caller.role() == Role::Rider {
        return Err(ApiError::forbidden(
            "riders follow deliveries at GET /v1/rider/deliveries/events",
        ));
    }
    visible_order(&state, &caller, &id).await?;
    // The seq after the colon resumes; what precedes it is this order's id as the stream sent
    // it (any order id is taken: the stream only ever shows this order).
    let sent_seq = last_event_id(&headers)
        .map(|v| {
            v.rsplit_once(':')
                .filter(|(order, seq)| {
                    (1..=100).contains(&order.len())
                        && order
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                        && (1..=9).contains(&seq.len())
                })
                .and_then(|(_, seq)| seq.parse::<u32>().ok())
                .ok_or_else(|| bad_last_event_id("`<order_id>:<seq>`"))
        })
        .transpose()?;
    Ok(stream(
        &state,
        Kind::Order {
            id,
            sent_seq,
            view: None,
        },
        true,
    ))
}

/// Every change of the caller's store's orders, new ones included, from now on (or, with
/// `Last-Event-ID`, from after that position).
#[utoipa::path(get, path = "/v1/store/orders/events",
    params(StreamResume),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` the stream position, data the order",
        content_type = "text/event-stream"), (status = 422)))]
pub async fn store_events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Role::StoreOwner)?;
    let store_id = caller.0.store_id.clone().unwrap_or_default();
    let resume = position(&headers)?;
    let kind = Kind::Store {
        store_id,
        sent_pos: resume.unwrap_or(0),
    };
    Ok(stream(&state, kind, resume.is_some()))
}

/// Deliveries appearing on the board within reach of the rider (`ready_for_pickup`) and
/// leaving it (`rider_assigned`, `canceled`), as board cards: nothing the board would not show.
#[utoipa::path(get, path = "/v1/rider/deliveries/events",
    params(BoardQuery, StreamResume),
    responses((status = 200, description = "text/event-stream: `event:` the status, `id:` the stream position, data a delivery card",
        content_type = "text/event-stream"), (status = 422)))]
pub async fn rider_events(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BoardQuery>,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    caller.require(Role::Rider)?;
    valid_board_query(&q)?;
    let resume = position(&headers)?;
    let kind = Kind::Rider {
        lat: q.lat,
        lon: q.lon,
        radius_km: q.radius_km,
        sent_pos: resume.unwrap_or(0),
    };
    Ok(stream(&state, kind, resume.is_some()))
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
