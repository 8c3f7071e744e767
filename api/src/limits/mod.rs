//! Rate limits and bounded streams: what keeps one caller (or one address) from taking what
//! every other caller needs.
//!
//! Each limit is a keyed GCRA limiter from `governor` (a maintained crate; no token bucket of
//! our own): place-order per customer, card declines per customer, commands per principal
//! (role and subject), location reports per rider, hook registrations and retries per owner,
//! catalog reads per client address. A refusal is 429 `rate_limited` with `Retry-After` and
//! the IETF draft `RateLimit` / `RateLimit-Policy` headers; an answer let through carries the
//! same two headers, so a well-behaved client can pace itself before it is refused.
//!
//! Card declines are a lockout, not a pace: after `N` declines within the window a customer's
//! place-orders are refused (429 `too_many_declines`) before they reach the payment service,
//! until the window has passed, so a stolen-card list cannot be tried through baedal.
//!
//! Every limit is this replica's alone (docs/rate-limits.md says how they compose across
//! replicas and with the gateway's). Keys are bounded in memory: every [`PRUNE_EVERY`] each
//! limiter forgets the keys whose allowance is full again (`retain_recent`), so an attacker
//! rotating addresses holds at most what it created within that time; IPv6 clients are keyed
//! by their /64, the block one subscriber gets.
//!
//! Streams ([`streams`]) are bounded by count, per principal and per replica.

mod streams;

pub use streams::Streams;

use crate::error::{ApiCode, ApiError, ApiResult};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// How often every limiter forgets the keys it no longer limits.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// `count` requests per `per`: a burst of `count` at once, then one every `per / count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: NonZeroU32,
    pub per: Duration,
}

impl Rate {
    pub const fn new(count: u32, per: Duration) -> Self {
        Rate {
            count: NonZeroU32::new(count).expect("a rate allows at least one request"),
            per,
        }
    }

    /// Paced: a burst of `count`, refilled one at a time.
    fn pace(self) -> Quota {
        Quota::with_period(self.per / self.count.get())
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }

    /// A lockout: `count` at once, then one more per whole `per` (after `count` quick ones the
    /// key waits the whole window).
    fn lockout(self) -> Quota {
        Quota::with_period(self.per)
            .unwrap_or_else(|| Quota::per_second(self.count))
            .allow_burst(self.count)
    }

    /// `RateLimit-Policy` of this rate named `name` (draft-ietf-httpapi-ratelimit-headers).
    fn policy(self, name: &str) -> String {
        format!(
            "\"{name}\";q={};w={}",
            self.count,
            self.per.as_secs().max(1)
        )
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    /// `<count>/<duration>`, e.g. `10/1m`, `5/15m`, `5/5s`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("'{s}' is not a rate: write <count>/<duration>, e.g. 10/1m or 5/15m");
        let (count, per) = s.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = humantime::parse_duration(per.trim()).map_err(|_| bad())?;
        if count == 0 || per.is_zero() {
            return Err(format!(
                "'{s}': a rate allows at least 1 request in a window longer than 0"
            ));
        }
        Ok(Rate::new(count, per))
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.count, humantime::format_duration(self.per))
    }
}

/// Every limit of an api process (the `BAEDAL_RATE_*` settings).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimits {
    /// Place-order requests per customer.
    pub place_orders: Rate,
    /// Card declines per customer before further place-orders are locked out for the window.
    pub card_declines: Rate,
    /// Order, store and rider commands per principal (role and subject).
    pub commands: Rate,
    /// Location reports per rider.
    pub location_reports: Rate,
    /// Hook registrations and delivery retries per hook owner.
    pub hook_changes: Rate,
    /// Catalog reads (no token) per client address.
    pub catalog_reads: Rate,
    /// Live streams open at once per principal, and on this replica.
    pub streams_per_principal: u32,
    pub streams_per_replica: u32,
    /// Webhooks one owner may have registered at once.
    pub hooks_per_owner: u32,
    /// How many proxies in front of the api append to `X-Forwarded-For` (0: the socket's
    /// peer is the client; 1: one gateway, whose entry is the last).
    pub trusted_proxy_hops: u8,
}

const MIN: Duration = Duration::from_secs(60);

impl RateLimits {
    /// What a deployment runs with unless told otherwise.
    pub const PRODUCTION: RateLimits = RateLimits {
        place_orders: Rate::new(10, MIN),
        card_declines: Rate::new(5, Duration::from_secs(15 * 60)),
        commands: Rate::new(60, MIN),
        location_reports: Rate::new(5, Duration::from_secs(5)),
        hook_changes: Rate::new(10, MIN),
        catalog_reads: Rate::new(600, MIN),
        streams_per_principal: 10,
        streams_per_replica: 5_000,
        hooks_per_owner: 20,
        trusted_proxy_hops: 0,
    };

    /// `baedal dev` and the shared test system: one machine's load generator or test suite
    /// (one customer placing hundreds of orders a second) never reaches them.
    pub const LOAD_TEST: RateLimits = RateLimits {
        place_orders: Rate::new(1_000_000, Duration::from_secs(1)),
        card_declines: Rate::new(1_000_000, Duration::from_secs(1)),
        commands: Rate::new(1_000_000, Duration::from_secs(1)),
        location_reports: Rate::new(1_000_000, Duration::from_secs(1)),
        hook_changes: Rate::new(1_000_000, Duration::from_secs(1)),
        catalog_reads: Rate::new(1_000_000, Duration::from_secs(1)),
        streams_per_principal: 100_000,
        streams_per_replica: 100_000,
        hooks_per_owner: 1_000,
        trusted_proxy_hops: 0,
    };
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::PRODUCTION
    }
}

/// One of the paced limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    PlaceOrder,
    Command,
    LocationReport,
    HookChange,
    CatalogRead,
}

impl Limit {
    /// The policy's name in the headers and metrics.
    fn name(self) -> &'static str {
        match self {
            Limit::PlaceOrder => "place_order",
            Limit::Command => "commands",
            Limit::LocationReport => "location_reports",
            Limit::HookChange => "hook_changes",
            Limit::CatalogRead => "catalog_reads",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Limit::PlaceOrder => "orders placed",
            Limit::Command => "order commands",
            Limit::LocationReport => "location reports",
            Limit::HookChange => "hook registrations and retries",
            Limit::CatalogRead => "catalog reads from your address",
        }
    }
}

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

fn keyed(quota: Quota) -> Keyed {
    RateLimiter::dashmap(quota).with_middleware::<StateInformationMiddleware>()
}

/// This replica's limiters. Cheap to share (`Arc`).
pub struct Limiters {
    pub settings: RateLimits,
    place: Keyed,
    declines: Keyed,
    commands: Keyed,
    location: Keyed,
    hooks: Keyed,
    catalog: Keyed,
    /// Customers locked out of card attempts, until when. Only customers who reached the
    /// decline limit are here, and each leaves when its time is up (pruned with the rest).
    locked: Mutex<HashMap<String, Instant>>,
    pub streams: Arc<Streams>,
}

impl Limiters {
    /// The limiters for `settings`, pruned every [`PRUNE_EVERY`] while they are in use (when
    /// made inside a tokio runtime).
    pub fn new(settings: RateLimits) -> Arc<Self> {
        let l = Arc::new(Limiters {
            place: keyed(settings.place_orders.pace()),
            declines: keyed(settings.card_declines.lockout()),
            commands: keyed(settings.commands.pace()),
            location: keyed(settings.location_reports.pace()),
            hooks: keyed(settings.hook_changes.pace()),
            catalog: keyed(settings.catalog_reads.pace()),
            locked: Mutex::default(),
            streams: Arc::new(Streams::new(
                settings.streams_per_principal,
                settings.streams_per_replica,
            )),
            settings,
        });
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(prune_while_used(Arc::downgrade(&l)));
        }
        l
    }

    fn limiter(&self, limit: Limit) -> (&Keyed, Rate) {
        let s = &self.settings;
        match limit {
            Limit::PlaceOrder => (&self.place, s.place_orders),
            Limit::Command => (&self.commands, s.commands),
            Limit::LocationReport => (&self.location, s.location_reports),
            Limit::HookChange => (&self.hooks, s.hook_changes),
            Limit::CatalogRead => (&self.catalog, s.catalog_reads),
        }
    }

    /// Count one request of `key` against `limit`: `Ok` (and the headers noted) while within
    /// it, 429 `rate_limited` past it.
    pub fn check(&self, limit: Limit, key: &str, note: &RateNote) -> ApiResult<()> {
        let (limiter, rate) = self.limiter(limit);
        let policy = rate.policy(limit.name());
        match limiter.check_key(&key.to_owned()) {
            Ok(snapshot) => {
                note.set(
                    policy,
                    format!(
                        "\"{}\";r={}",
                        limit.name(),
                        snapshot.remaining_burst_capacity()
                    ),
                );
                Ok(())
            }
            Err(not_until) => {
                let secs = whole_secs(not_until.wait_time_from(limiter.clock().now()));
                note.set(policy, format!("\"{}\";r=0;t={secs}", limit.name()));
                metrics::counter!("baedal_rate_limited_total", "limit" => limit.name())
                    .increment(1);
                Err(ApiError::new(
                    ApiCode::RateLimited,
                    format!(
                        "too many {}: at most {rate}; retry after {secs} s (Retry-After)",
                        limit.what()
                    ),
                )
                .retry_after(secs))
            }
        }
    }

    /// Refuse a card attempt of `customer` while they are locked out after too many declines.
    pub fn card_attempt(&self, customer: &str) -> ApiResult<()> {
        let locked = self.locked.lock().expect("lockouts").get(customer).copied();
        let now = Instant::now();
        match locked {
            Some(until) if until > now => {
                let secs = whole_secs(until - now);
                metrics::counter!("baedal_rate_limited_total", "limit" => "card_declines")
                    .increment(1);
                Err(ApiError::new(
                    ApiCode::TooManyDeclines,
                    format!(
                        "{} cards were declined within {}: no card is tried for this account \
                         for {secs} s; check the card details, or use another payment method later",
                        self.settings.card_declines.count,
                        humantime::format_duration(self.settings.card_declines.per)
                    ),
                )
                .retry_after(secs))
            }
            _ => Ok(()),
        }
    }

    /// Count a decline of `customer`'s card; the one that reaches the limit locks them out
    /// for the window.
    pub fn card_declined(&self, customer: &str) {
        let until = match self.declines.check_key(&customer.to_owned()) {
            Ok(s) if s.remaining_burst_capacity() > 0 => return,
            Ok(_) => Instant::now() + self.settings.card_declines.per,
            Err(not_until) => {
                Instant::now() + not_until.wait_time_from(self.declines.clock().now())
            }
        };
        tracing::warn!(customer, "card attempts locked out after repeated declines");
        let mut locked = self.locked.lock().expect("lockouts");
        let entry = locked.entry(customer.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    fn prune(&self) {
        for l in [
            &self.place,
            &self.declines,
            &self.commands,
            &self.location,
            &self.hooks,
            &self.catalog,
        ] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let now = Instant::now();
        self.locked
            .lock()
            .expect("lockouts")
            .retain(|_, until| *until > now);
    }

    /// How many keys the limiters hold (for the memory bound's test).
    pub fn keys(&self) -> usize {
        self.place.len()
            + self.declines.len()
            + self.commands.len()
            + self.location.len()
            + self.hooks.len()
            + self.catalog.len()
    }
}

/// Prune `limiters` every [`PRUNE_EVERY`] until they are dropped.
async fn prune_while_used(limiters: Weak<Limiters>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match limiters.upgrade() {
            Some(l) => l.prune(),
            None => return,
        }
    }
}

/// Whole seconds to wait, at least 1 (a `Retry-After: 0` invites an immediate retry).
fn whole_secs(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000_000))
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Where a request's limit check leaves the `RateLimit-Policy` and `RateLimit` headers for its
/// answer (whatever the answer: a 429 or a success). Put in place by [`rate_headers`].
#[derive(Clone, Default)]
pub struct RateNote(Arc<Mutex<Option<(String, String)>>>);

impl RateNote {
    fn set(&self, policy: String, state: String) {
        *self.0.lock().expect("rate note") = Some((policy, state));
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RateNote {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(parts
            .extensions
            .get::<RateNote>()
            .cloned()
            .unwrap_or_default())
    }
}

static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The layer that gives every request a [`RateNote`] and writes what it noted into the answer.
pub async fn rate_headers(mut req: Request, next: Next) -> Response {
    let note = RateNote::default();
    req.extensions_mut().insert(note.clone());
    let mut resp = next.run(req).await;
    let noted = note.0.lock().expect("rate note").take();
    if let Some((policy, state)) = noted
        && let (Ok(policy), Ok(state)) = (
            HeaderValue::from_str(&policy),
            HeaderValue::from_str(&state),
        )
    {
        resp.headers_mut().insert(RATELIMIT_POLICY.clone(), policy);
        resp.headers_mut().insert(RATELIMIT.clone(), state);
    }
    resp
}

/// The key of the client at `peer` for the per-address limits: the socket's peer, or with
/// `hops` trusted proxies, the address the `hops`-th proxy from the api saw (the `hops`-th
/// `X-Forwarded-For` entry from the right; entries to its left are the client's own word and
/// never read). IPv6 addresses are keyed by their /64, the block one subscriber gets.
pub fn client_key(peer: Option<IpAddr>, forwarded: &str, hops: u8) -> String {
    let mut ip = peer;
    if hops > 0 {
        let entries: Vec<&str> = forwarded
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .collect();
        // Fewer entries than trusted proxies: the request did not come through them all, so
        // the peer is all that is known.
        if let Some(e) = entries
            .len()
            .checked_sub(usize::from(hops))
            .map(|i| entries[i])
        {
            ip = e.parse().ok().or(ip);
        }
    }
    match ip {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Some(IpAddr::V4(v4)) => v4.to_string(),
        None => "unknown".into(),
    }
}

/// The key of a caller for the per-principal limits: role and subject.
pub fn principal(claims: &baedal_auth::Claims) -> String {
    format!("{}:{}", claims.role.as_str(), claims.sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_count_per_duration() {
        assert_eq!("10/1m".parse(), Ok(Rate::new(10, MIN)));
        assert_eq!(
            " 5 / 15m ".parse(),
            Ok(Rate::new(5, Duration::from_secs(900)))
        );
        for bad in ["10", "0/1m", "10/0s", "x/1m", "10/soon", ""] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
        assert_eq!(Rate::new(10, MIN).to_string(), "10/1m");
    }

    #[test]
    fn the_client_is_the_peer_unless_proxies_are_trusted() {
        let peer: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(client_key(Some(peer), "1.2.3.4", 0), "10.0.0.9");
        // One gateway: its entry (the last) is the client; what the client wrote before is not.
        assert_eq!(client_key(Some(peer), "6.6.6.6, 1.2.3.4", 1), "1.2.3.4");
        assert_eq!(
            client_key(Some(peer), "6.6.6.6, 1.2.3.4, 10.1.1.1", 2),
            "1.2.3.4"
        );
        // Not through every trusted proxy: the peer.
        assert_eq!(client_key(Some(peer), "", 1), "10.0.0.9");
        let v6: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(client_key(Some(v6), "", 0), "2001:db8:1:2::/64");
        assert_eq!(client_key(None, "", 0), "unknown");
    }

    #[tokio::test]
    async fn a_limit_refuses_past_its_burst_and_says_when_to_retry() {
        let mut s = RateLimits::LOAD_TEST;
        s.place_orders = Rate::new(2, MIN);
        let l = Limiters::new(s);
        let note = RateNote::default();
        assert!(l.check(Limit::PlaceOrder, "c1", &note).is_ok());
        assert_eq!(
            note.0.lock().unwrap().clone().unwrap(),
            (
                "\"place_order\";q=2;w=60".into(),
                "\"place_order\";r=1".into()
            )
        );
        assert!(l.check(Limit::PlaceOrder, "c1", &note).is_ok());
        let e = l.check(Limit::PlaceOrder, "c1", &note).unwrap_err();
        assert_eq!(e.code, ApiCode::RateLimited);
        let wait = e.retry_after_secs.unwrap();
        assert!((1..=30).contains(&wait), "{wait}");
        assert_eq!(
            note.0.lock().unwrap().clone().unwrap().1,
            format!("\"place_order\";r=0;t={wait}")
        );
        // Another key has its own allowance.
        assert!(l.check(Limit::PlaceOrder, "c2", &note).is_ok());
    }

    #[tokio::test]
    async fn declines_lock_card_attempts_out_for_the_window() {
        let mut s = RateLimits::LOAD_TEST;
        s.card_declines = Rate::new(3, Duration::from_secs(600));
        let l = Limiters::new(s);
        for _ in 0..2 {
            l.card_declined("c1");
            assert!(l.card_attempt("c1").is_ok());
        }
        l.card_declined("c1");
        let e = l.card_attempt("c1").unwrap_err();
        assert_eq!(e.code, ApiCode::TooManyDeclines);
        assert!(e.retry_after_secs.unwrap() > 590);
        assert!(l.card_attempt("c2").is_ok());
    }

    #[tokio::test]
    async fn keys_whose_allowance_is_full_again_are_forgotten() {
        let mut s = RateLimits::LOAD_TEST;
        s.catalog_reads = Rate::new(100, Duration::from_millis(100));
        let l = Limiters::new(s);
        let note = RateNote::default();
        for n in 0..1000 {
            l.check(
                Limit::CatalogRead,
                &format!("10.0.{}.{}", n / 256, n % 256),
                &note,
            )
            .unwrap();
        }
        assert_eq!(l.keys(), 1000);
        // One request's worth of allowance comes back within 1 ms at this rate.
        std::thread::sleep(Duration::from_millis(5));
        l.prune();
        assert_eq!(l.keys(), 0);
    }
}
