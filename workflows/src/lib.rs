//! baedal-workflows
