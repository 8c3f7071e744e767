//! Where riders must be for their steps, and where stores deliver (`baedal_domain::plausible`).

use baedal_domain::plausible::{MAX_BOARD_RADIUS_KM, Plausibility};
use clap::Args;
use std::time::Duration;

#[derive(Debug, Clone, Args)]
pub struct RiderChecks {
    /// A claim, pickup or deliver needs the rider's position reported at most this long ago
    /// (at most 5m: older positions are deleted).
    #[arg(long, env = "BAEDAL_RIDER_POSITION_FRESH", default_value = "2m", value_parser = humantime::parse_duration)]
    pub rider_position_fresh: Duration,
    /// How many deliveries (claimed or picked up) one rider may carry at once.
    #[arg(long, env = "BAEDAL_RIDER_MAX_ACTIVE", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rider_max_active: u32,
    /// A position report implying a faster ride than this (km/h, by the server's clock) since
    /// the rider's last one is refused.
    #[arg(long, env = "BAEDAL_RIDER_MAX_SPEED_KMH", default_value_t = 150.0)]
    pub rider_max_speed_kmh: f64,
    /// A pickup needs the rider's last position within this many metres of the store.
    #[arg(long, env = "BAEDAL_RIDER_AT_STORE_METERS", default_value_t = 200.0)]
    pub rider_at_store_meters: f64,
    /// A deliver needs the rider's last position within this many metres of the delivery point.
    #[arg(long, env = "BAEDAL_RIDER_AT_DOOR_METERS", default_value_t = 200.0)]
    pub rider_at_door_meters: f64,
    /// How far a store delivers (km) when the catalog gives it no radius of its own.
    #[arg(long, env = "BAEDAL_DELIVERY_RADIUS_KM", default_value_t = 3.0)]
    pub delivery_radius_km: f64,
}

impl RiderChecks {
    /// The rules, or what to change.
    pub fn plausibility(&self) -> anyhow::Result<Plausibility> {
        let kept = Duration::from_secs(baedal_domain::eta::FIX_FRESH_FOR_SECS.unsigned_abs());
        anyhow::ensure!(
            self.rider_position_fresh > Duration::ZERO && self.rider_position_fresh <= kept,
            "BAEDAL_RIDER_POSITION_FRESH must be more than 0 and at most {}s (positions are kept no longer)",
            kept.as_secs()
        );
        for (name, v) in [
            ("BAEDAL_RIDER_MAX_SPEED_KMH", self.rider_max_speed_kmh),
            ("BAEDAL_RIDER_AT_STORE_METERS", self.rider_at_store_meters),
            ("BAEDAL_RIDER_AT_DOOR_METERS", self.rider_at_door_meters),
            ("BAEDAL_DELIVERY_RADIUS_KM", self.delivery_radius_km),
        ] {
            anyhow::ensure!(v.is_finite() && v > 0.0, "{name} must be a number above 0");
        }
        Ok(Plausibility {
            position_fresh_ms: self.rider_position_fresh.as_millis() as u64,
            claim_radius_km: MAX_BOARD_RADIUS_KM,
            max_active: self.rider_max_active,
            max_speed_kmh: self.rider_max_speed_kmh,
            at_store_m: self.rider_at_store_meters,
            at_door_m: self.rider_at_door_meters,
            delivery_radius_km: self.delivery_radius_km,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        r: RiderChecks,
    }

    #[test]
    fn the_defaults_are_the_domains_and_nonsense_is_refused() {
        let cli = Cli::try_parse_from(["x"]).unwrap();
        assert_eq!(cli.r.plausibility().unwrap(), Plausibility::default());
        let stale = Cli::try_parse_from(["x", "--rider-position-fresh", "10m"]).unwrap();
        assert!(stale.r.plausibility().is_err());
        let zero = Cli::try_parse_from(["x", "--delivery-radius-km", "0"]).unwrap();
        assert!(zero.r.plausibility().is_err());
        assert!(Cli::try_parse_from(["x", "--rider-max-active", "0"]).is_err());
    }
}
