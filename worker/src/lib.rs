//! baedal-worker
