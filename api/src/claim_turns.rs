//! One claim at a time per rider, in this api process: "at most `BAEDAL_RIDER_MAX_ACTIVE`
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

use std::hash::BuildHasher;
use tokio::sync::{Mutex, MutexGuard};

/// Locks riders are spread over: a fixed, small memory whatever the number of riders. Two
/// riders on one lock only wait for each other's claim (milliseconds), never refuse it.
const STRIPES: usize = 256;

pub struct ClaimTurns {
    stripes: Box<[Mutex<()>]>,
    hasher: std::hash::RandomState,
}

impl Default for ClaimTurns {
    fn default() -> Self {
        Self {
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: std::hash::RandomState::new(),
        }
    }
}

impl ClaimTurns {
    /// Wait for `rider`'s turn: held until the guard is dropped.
    pub async fn take(&self, rider: &str) -> MutexGuard<'_, ()> {
        let i = (self.hasher.hash_one(rider) % STRIPES as u64) as usize;
        self.stripes[i].lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_riders_second_claim_waits_for_the_first_and_others_do_not() {
        let turns = ClaimTurns::default();
        let first = turns.take("rd_1").await;
        let second = tokio::time::timeout(Duration::from_millis(50), turns.take("rd_1")).await;
        assert!(second.is_err(), "the same rider waits");
        // Another rider is not held up (unless on the same stripe: find one that is not).
        let mine = turns.hasher.hash_one("rd_1") % STRIPES as u64;
        let other = (0..)
            .map(|n| format!("rd_other_{n}"))
            .find(|r| turns.hasher.hash_one(r.as_str()) % STRIPES as u64 != mine)
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
