//! baedal-payment
