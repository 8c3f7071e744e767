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
//! key), the store and rider streams' the change log's position. A reconnecting order stream
//! reads what it missed from the order's current view (so an order older than the log's
//! horizon still resumes); a store or rider stream reads the log back from its position, then
//! goes live, skipping what it already sent, so nothing arrives twice. A position whose row
//! the log no longer holds (past the retention horizon), or too far behind for a catch-up
//! ([`baedal_readmodel::RESUME_WINDOW`] positions for a rider stream,
//! [`baedal_readmodel::STORE_RESUME_WINDOW`] of the store's changes), gets `event: reset` (no
//! id) with the current state instead: the store's open orders, or the rider's board, from
//! their indexes; the global log is never replayed. A position past the log's end is refused
//! (`invalid_last_event_id`). A stream that cannot keep up with the feed (a slow client) is
//! told it lagged and catches up from the database one batch at a time, a few streams of a
//! process at a time ([`baedal_readmodel::CATCH_UPS`]), or resets when too far behind: memory
//! per stream stays at most one batch, however slow the client. Comments every
//! `BAEDAL_SSE_HEARTBEAT` (15 s) keep idle connections open through proxies.
//!
//! The streams' endpoints are their parties' (orders, store, rider), which authorize the
//! caller and then follow with [`order_stream`], [`store_stream`] or [`board_stream`].
//!
//! Streams are bounded: each holds one of its principal's `BAEDAL_STREAMS_PER_PRINCIPAL`
//! slots and one of the replica's `BAEDAL_STREAMS_PER_REPLICA` (429 `too_many_streams` past
//! either), and the server closes it when the caller's token expires (at its `exp`): a stream
//! never shows more, or longer, than its token allows. The client reconnects with a fresh
//! token and its `Last-Event-ID`.

mod follow;

pub use follow::ETA_EVERY;

use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::Caller;
use crate::limits::principal;
use crate::state::AppState;
use crate::views::Viewer;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use baedal_readmodel::{Changes, Interest, LogCursor, Resume};
use follow::{Follow, Kind, Pending};
use futures::{Stream, StreamExt};
use std::convert::Infallible;

/// Subscribe to the feed for `interest` (from now on, every change it covers reaches the
/// stream), then stream `kind`, doing `pending` first, for as long as `caller`'s token is
/// valid. The stream takes one of the caller's stream slots (429 when they, or this replica,
/// have none left), given back when it ends.
async fn stream(
    state: &AppState,
    caller: &Caller,
    interest: Interest,
    kind: Kind,
    pending: Pending,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let slot = state.limits.streams.open(&principal(&caller.0))?;
    let ends = token_end(caller.0.exp);
    let sub = state.feed.subscribe(interest).await?;
    let follow = Follow::new(
        state.read_model.clone(),
        state.feed.clone(),
        sub,
        kind,
        pending,
    );
    let events = futures::stream::unfold(follow, Follow::next)
        // The server closes the stream when the token expires: what it shows is read with
        // the token's authority, which ends then. The client reconnects with a fresh token
        // (and its Last-Event-ID, losing nothing).
        .take_until(tokio::time::sleep_until(ends))
        .map(move |e| {
            // The slot lives as long as the stream.
            let _held = &slot;
            e
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.sse_heartbeat)))
}

/// When a stream opened with a token expiring at `exp` (seconds since the epoch) ends.
fn token_end(exp: u64) -> tokio::time::Instant {
    let now_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    // However far off the token says (the identity provider decides its lifetime), a day at
    // most: the client reconnects then, as it does for any closed stream.
    let left = std::time::Duration::from_secs(exp)
        .saturating_sub(now_unix)
        .min(std::time::Duration::from_secs(24 * 3600));
    tokio::time::Instant::now() + left
}

/// Where a store or rider stream resumed with `Last-Event-ID` starts: from its position's row,
/// or with a reset; a position past the log's end is refused.
async fn resume(
    state: &AppState,
    pos: Option<i64>,
    which: Changes<'_>,
) -> ApiResult<(Option<LogCursor>, Pending)> {
    let Some(pos) = pos else {
        return Ok((None, Pending::Nothing));
    };
    Ok(match state.read_model.resume(pos, which).await? {
        Resume::From(c) => (Some(c), Pending::CatchUp),
        Resume::Reset => (None, Pending::Reset),
        Resume::BeyondEnd => {
            return Err(ApiError::new(
                ApiCode::InvalidLastEventId,
                format!(
                    "Last-Event-ID {pos} is past this stream's newest position; reconnect without it to start from now"
                ),
            ));
        }
    })
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
    /// Resume after this stream position (as the stream sent it). A position the change log
    /// no longer holds, or too far behind, gets `event: reset` with the current state first;
    /// one past the log's end is refused with 422 `invalid_last_event_id`.
    #[param(rename = "Last-Event-ID", pattern = r"^[0-9]{1,18}$")]
    #[param(required = false)]
    last_event_id: String,
}

fn bad_last_event_id(expected: &str) -> ApiError {
    ApiError::new(
        ApiCode::InvalidLastEventId,
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

/// An order's status changes as they happen, for a caller who may see the order: the
/// current status first, then each change; with `Last-Event-ID: <order_id>:<seq>`, every
/// change after that seq first.
pub async fn order_stream(
    state: &AppState,
    caller: &Caller,
    id: String,
    viewer: Viewer,
    headers: &HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    // The seq after the colon resumes; what precedes it is this order's id as the stream sent
    // it (any order id is taken: the stream only ever shows this order).
    let sent_seq = last_event_id(headers)
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
    stream(
        state,
        caller,
        Interest::Order(id.clone()),
        Kind::Order {
            id,
            sent_seq,
            view: None,
            viewer,
        },
        Pending::CatchUp,
    )
    .await
}

/// Every change of one store's orders from now on (or, with `Last-Event-ID`, from after that
/// position, or from a reset).
pub async fn store_stream(
    state: &AppState,
    caller: &Caller,
    store_id: String,
    headers: &HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let pos = position(headers)?;
    let (cursor, pending) = resume(state, pos, Changes::Store(&store_id)).await?;
    let interest = Interest::Store(store_id.clone());
    stream(
        state,
        caller,
        interest,
        Kind::Store { store_id, cursor },
        pending,
    )
    .await
}

/// Deliveries appearing on the board within `radius_km` of (`lat`, `lon`) and leaving it, as
/// board cards, from now on (or, with `Last-Event-ID`, from after that position, or from a
/// reset).
pub async fn board_stream(
    state: &AppState,
    caller: &Caller,
    (lat, lon, radius_km): (f64, f64, f64),
    headers: &HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>> + use<>>> {
    let pos = position(headers)?;
    let (cursor, pending) = resume(state, pos, Changes::All).await?;
    let kind = Kind::Rider {
        lat,
        lon,
        radius_km,
        cursor,
    };
    stream(state, caller, Interest::All, kind, pending).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stream_ends_at_its_tokens_expiry_and_never_overflows() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let start = tokio::time::Instant::now();
        let in_a_minute = token_end(now + 60) - start;
        assert!(in_a_minute <= std::time::Duration::from_secs(60));
        assert!(in_a_minute >= std::time::Duration::from_secs(58));
        // Expired: at once. A token for ever: a day.
        assert!(token_end(now - 10) - start < std::time::Duration::from_secs(1));
        assert!(token_end(u64::MAX) - start <= std::time::Duration::from_secs(24 * 3600 + 1));
    }
}
