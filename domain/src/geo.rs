//! Distances on the earth's surface, for "riders near the pickup".

/// Great-circle distance in kilometres between two WGS84 points (haversine; well under 0.5%
/// off at city scale, which is all a rider board needs).
pub fn distance_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0088;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().asin()
}

/// Average speed of a rider in the city, door to door (traffic lights, parking, stairs).
pub const RIDER_KM_PER_HOUR: f64 = 15.0;
/// Minutes a handover at the door adds to the ride.
pub const HANDOVER_MINUTES: u32 = 3;

/// Minutes from pickup to the customer's door for a ride of `km`: what a customer is told
/// ("about N minutes") once the rider has the food. A promise, so rounded up, at least 5.
pub fn delivery_eta_minutes(km: f64) -> u32 {
    let riding = (km.max(0.0) / RIDER_KM_PER_HOUR * 60.0).ceil();
    (riding.min(600.0) as u32 + HANDOVER_MINUTES).max(5)
}

/// True when `lat`/`lon` are a valid WGS84 coordinate.
pub fn valid_coordinate(lat: f64, lon: f64) -> bool {
    lat.is_finite()
        && lon.is_finite()
        && (-90.0..=90.0).contains(&lat)
        && (-180.0..=180.0).contains(&lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gangnam_station_to_seoul_city_hall_is_about_nine_km() {
        let d = distance_km(37.4979, 127.0276, 37.5663, 126.9779);
        assert!((8.5..9.2).contains(&d), "{d}");
        assert_eq!(distance_km(37.5, 127.0, 37.5, 127.0), 0.0);
    }

    #[test]
    fn the_eta_rounds_up_and_never_promises_less_than_five_minutes() {
        assert_eq!(delivery_eta_minutes(0.0), 5);
        // 9 km at 15 km/h is 36 minutes, and the handover.
        assert_eq!(delivery_eta_minutes(9.0), 39);
        assert_eq!(delivery_eta_minutes(9.01), 40);
    }

    #[test]
    fn rejects_out_of_range_coordinates() {
        assert!(valid_coordinate(37.5, 127.0));
        assert!(!valid_coordinate(91.0, 127.0));
        assert!(!valid_coordinate(37.5, 181.0));
        assert!(!valid_coordinate(f64::NAN, 0.0));
    }
}
