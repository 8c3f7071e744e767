//! Rate limits, stream bounds and the hook cap of an api process (docs/rate-limits.md).
//!
//! A setting left unset takes the production default ([`RateLimits::PRODUCTION`]); under
//! `baedal dev` it takes [`RateLimits::LOAD_TEST`] instead, so a load generator on the same
//! machine (one customer placing hundreds of orders a second) measures baedal, not its
//! limits. A value set is used by every role alike.

use baedal_api::{Rate, RateLimits};
use clap::Args;

/// What the api limits, per caller and per replica.
#[derive(Debug, Clone, Args)]
pub struct Limits {
    /// Place-order requests per customer, as <count>/<window> (a burst of <count>, refilled
    /// evenly over the window). Default 10/1m.
    #[arg(long, env = "BAEDAL_RATE_PLACE_ORDERS")]
    pub rate_place_orders: Option<Rate>,
    /// Card declines per customer: the one that reaches <count> within <window> locks the
    /// customer's place-orders out (429 too_many_declines) for the window. Default 5/15m.
    #[arg(long, env = "BAEDAL_RATE_CARD_DECLINES")]
    pub rate_card_declines: Option<Rate>,
    /// Order, store and rider commands (accept, claim, cancel, …) per principal. Default 60/1m.
    #[arg(long, env = "BAEDAL_RATE_COMMANDS")]
    pub rate_commands: Option<Rate>,
    /// Location reports per rider. Default 5/5s (one a second, a burst of five).
    #[arg(long, env = "BAEDAL_RATE_LOCATION_REPORTS")]
    pub rate_location_reports: Option<Rate>,
    /// Webhook registrations and delivery retries per hook owner. Default 10/1m.
    #[arg(long, env = "BAEDAL_RATE_HOOK_CHANGES")]
    pub rate_hook_changes: Option<Rate>,
    /// Catalog reads (no token) per client address (IPv6: per /64). Default 600/1m: many
    /// phones share one carrier address.
    #[arg(long, env = "BAEDAL_RATE_CATALOG_READS")]
    pub rate_catalog_reads: Option<Rate>,
    /// How many proxies in front of the api append the address they saw to X-Forwarded-For:
    /// the client is the entry that many from the right. 0 (default): the socket's peer is
    /// the client and the header is not read (set it only behind a gateway that appends).
    #[arg(long, env = "BAEDAL_RATE_TRUSTED_PROXY_HOPS")]
    pub rate_trusted_proxy_hops: Option<u8>,
    /// Live streams (SSE) open at once per principal. Default 10.
    #[arg(long, env = "BAEDAL_STREAMS_PER_PRINCIPAL")]
    pub streams_per_principal: Option<u32>,
    /// Live streams open at once on one api replica. Default 5000.
    #[arg(long, env = "BAEDAL_STREAMS_PER_REPLICA")]
    pub streams_per_replica: Option<u32>,
    /// Webhooks one owner (ops, or one store) may have at once. Default 20.
    #[arg(long, env = "BAEDAL_HOOKS_PER_OWNER")]
    pub hooks_per_owner: Option<u32>,
}

impl Limits {
    /// The limits to run with: each setting given, or the default of a deployment (or of
    /// `baedal dev` when `dev`).
    pub fn limits(&self, dev: bool) -> anyhow::Result<RateLimits> {
        let d = if dev {
            RateLimits::LOAD_TEST
        } else {
            RateLimits::PRODUCTION
        };
        let limits = RateLimits {
            place_orders: self.rate_place_orders.unwrap_or(d.place_orders),
            card_declines: self.rate_card_declines.unwrap_or(d.card_declines),
            commands: self.rate_commands.unwrap_or(d.commands),
            location_reports: self.rate_location_reports.unwrap_or(d.location_reports),
            hook_changes: self.rate_hook_changes.unwrap_or(d.hook_changes),
            catalog_reads: self.rate_catalog_reads.unwrap_or(d.catalog_reads),
            trusted_proxy_hops: self.rate_trusted_proxy_hops.unwrap_or(d.trusted_proxy_hops),
            streams_per_principal: self
                .streams_per_principal
                .unwrap_or(d.streams_per_principal),
            streams_per_replica: self.streams_per_replica.unwrap_or(d.streams_per_replica),
            hooks_per_owner: self.hooks_per_owner.unwrap_or(d.hooks_per_owner),
        };
        for (name, n) in [
            ("BAEDAL_STREAMS_PER_PRINCIPAL", limits.streams_per_principal),
            ("BAEDAL_STREAMS_PER_REPLICA", limits.streams_per_replica),
            ("BAEDAL_HOOKS_PER_OWNER", limits.hooks_per_owner),
        ] {
            anyhow::ensure!(
                n > 0,
                "{name} is 0: nothing could be opened; set at least 1"
            );
        }
        Ok(limits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        limits: Limits,
    }

    #[test]
    fn unset_limits_are_the_deployments_defaults_and_set_ones_are_read() {
        let unset = Cli::try_parse_from(["baedal"]).unwrap().limits;
        assert_eq!(unset.limits(false).unwrap(), RateLimits::PRODUCTION);
        assert_eq!(unset.limits(true).unwrap(), RateLimits::LOAD_TEST);
        let set = Cli::try_parse_from([
            "baedal",
            "--rate-place-orders",
            "3/1m",
            "--rate-trusted-proxy-hops",
            "1",
        ])
        .unwrap()
        .limits;
        let l = set.limits(true).unwrap();
        assert_eq!(l.place_orders, "3/1m".parse().unwrap());
        assert_eq!(l.trusted_proxy_hops, 1);
        assert_eq!(l.commands, RateLimits::LOAD_TEST.commands);
        assert!(Cli::try_parse_from(["baedal", "--rate-commands", "sixty"]).is_err());
        let zero = Cli::try_parse_from(["baedal", "--streams-per-principal", "0"])
            .unwrap()
            .limits;
        assert!(zero.limits(false).is_err());
    }
}
