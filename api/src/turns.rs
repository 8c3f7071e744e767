//! One at a time per key, in this api process: a rider's claims, a customer's card attempts.
//!
//! Claims: "at most `BAEDAL_RIDER_MAX_ACTIVE`
//! deliveries at once" is checked against the read model's count of what the rider carries,
//! and a claim answers only once the read model shows it (`baedal_workflows`: a caller that
//! gets 200 reads its own write). So claims of one rider taken in turn each see the ones before
//! them, and claims sent together (a script firing at every card on the board) cannot all pass
//! the check against the same count.
//!
//! Across api replicas this is best effort: two claims of one rider sent to two replicas at
//! the same instant can still both pass. Closing that needs the count kept with the claim in
//! one transaction (the order's workflow does not know the rider's other orders, and must not
//! change for it); a rider's app sends one claim at a time, so only a script gets that far,
//! and only by one delivery per replica.
//!
//! Card attempts: the decline lockout counts a decline once the payment service has answered,
//! so attempts sent together would all pass the check before the first decline is counted.
//! Taken in turn, each attempt sees the declines before it (per replica, as above).

use std::hash::BuildHasher;
use tokio::sync::{Mutex, MutexGuard};

/// Keys are spread over a fixed number of locks: a fixed, small memory whatever the number of
/// riders or customers. Two keys on one lock only wait for each other's turn, never refuse it;
/// the more stripes, the rarer that is (a card attempt takes the PSP's answer, so cards get
/// more stripes than claims).
pub struct Turns {
    stripes: Box<[Mutex<()>]>,
    hasher: std::hash::RandomState,
}

impl Turns {
    /// Turns over `stripes` locks.
    pub fn new(stripes: usize) -> Self {
        Self {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// Wait for `key`'s turn: held until the guard is dropped.
    pub async fn take(&self, key: &str) -> MutexGuard<'_, ()> {
        self.stripes[self.stripe(key)].lock().await
    }

    fn stripe(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % self.stripes.len() as u64) as usize
    }
}

/// A rider's claims: each takes milliseconds.
pub const CLAIM_STRIPES: usize = 256;
/// A customer's card attempts: each waits for the PSP (hundreds of milliseconds), so enough
/// stripes that customers paying at the same time rarely share one (200 charges in flight on
/// a replica share a stripe about 5% of the time).
pub const CARD_STRIPES: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_riders_second_claim_waits_for_the_first_and_others_do_not() {
        let turns = Turns::new(CLAIM_STRIPES);
        let first = turns.take("rd_1").await;
        let second = tokio::time::timeout(Duration::from_millis(50), turns.take("rd_1")).await;
        assert!(second.is_err(), "the same rider waits");
        // Another rider is not held up (unless on the same stripe: find one that is not).
        let mine = turns.stripe("rd_1");
        let other = (0..)
            .map(|n| format!("rd_other_{n}"))
            .find(|r| turns.stripe(r) != mine)
            .unwrap();
        let theirs = tokio::time::timeout(Duration::from_millis(50), turns.take(&other)).await;
        assert!(theirs.is_ok(), "another rider goes ahead");
        drop(theirs);
        drop(first);
        let again = tokio::time::timeout(Duration::from_secs(1), turns.take("rd_1")).await;
        assert!(
            again.is_ok(),
            "the rider's turn comes once the first is done"
        );
    }
}
