//! baedal-notification
