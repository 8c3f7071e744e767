//! baedal-api
