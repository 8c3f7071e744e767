//! baedal-activities
