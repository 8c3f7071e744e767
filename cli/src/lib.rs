//! baedal
