//! Live streams bounded by count: at most `per_principal` open at once for one principal
//! (role and subject), and `per_replica` on this process; past either, 429
//! `too_many_streams`. A [`StreamSlot`] is held for as long as its stream lives and given
//! back when the stream ends (the client left, the token expired, the server closed it).

use crate::error::{ApiCode, ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The streams open on this replica, by principal.
pub struct Streams {
    per_principal: u32,
    per_replica: u32,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: u32,
    /// Only principals with a stream open: an entry goes when its last stream ends.
    by_principal: HashMap<String, u32>,
}

impl Streams {
    pub fn new(per_principal: u32, per_replica: u32) -> Self {
        Streams {
            per_principal,
            per_replica,
            open: Mutex::default(),
        }
    }

    /// A slot for one more stream of `principal`, or 429 when they (or this replica) have as
    /// many open as allowed.
    pub fn open(self: &Arc<Self>, principal: &str) -> ApiResult<StreamSlot> {
        let mut open = self.open.lock().expect("streams");
        if open.total >= self.per_replica {
            metrics::counter!("baedal_rate_limited_total", "limit" => "streams_per_replica")
                .increment(1);
            return Err(ApiError::new(
                ApiCode::TooManyStreams,
                "this server follows as many live streams as it can; reconnect after \
                 Retry-After (another replica may take you)",
            ));
        }
        let mine = open.by_principal.get(principal).copied().unwrap_or(0);
        if mine >= self.per_principal {
            metrics::counter!("baedal_rate_limited_total", "limit" => "streams_per_principal")
                .increment(1);
            return Err(ApiError::new(
                ApiCode::TooManyStreams,
                format!(
                    "you have {mine} live streams open, the most one account may: close one \
                     (or let it end) before opening another"
                ),
            ));
        }
        open.total += 1;
        open.by_principal.insert(principal.to_owned(), mine + 1);
        metrics::gauge!("baedal_sse_streams_open").set(f64::from(open.total));
        Ok(StreamSlot {
            streams: self.clone(),
            principal: principal.to_owned(),
        })
    }

    /// How many streams are open (on this replica; of `principal`).
    pub fn count(&self, principal: Option<&str>) -> u32 {
        let open = self.open.lock().expect("streams");
        match principal {
            Some(p) => open.by_principal.get(p).copied().unwrap_or(0),
            None => open.total,
        }
    }
}

/// One open stream's place; given back on drop.
pub struct StreamSlot {
    streams: Arc<Streams>,
    principal: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.open.lock().expect("streams");
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_principal.get_mut(&self.principal) {
            *n -= 1;
            if *n == 0 {
                open.by_principal.remove(&self.principal);
            }
        }
        metrics::gauge!("baedal_sse_streams_open").set(f64::from(open.total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_bounded_per_principal_and_replica_and_given_back() {
        let s = Arc::new(Streams::new(2, 3));
        let a1 = s.open("customer:a").unwrap();
        let _a2 = s.open("customer:a").unwrap();
        let e = s.open("customer:a").err().unwrap();
        assert_eq!(e.code, ApiCode::TooManyStreams);
        let _b1 = s.open("customer:b").unwrap();
        // The replica is full: even a principal with none open waits.
        assert_eq!(
            s.open("customer:c").err().unwrap().code,
            ApiCode::TooManyStreams
        );
        drop(a1);
        assert_eq!(s.count(Some("customer:a")), 1);
        let _a3 = s.open("customer:a").unwrap();
        assert_eq!(s.count(None), 3);
    }
}
