//! What keeps a role's doors narrow: limits on every listener, the switch that lets tests
//! inject faults, and the rule that outside dev the process talks to the identity provider,
//! the payment service and the KakaoTalk gateway over https only.

use crate::listen::ServeLimits;
use clap::Args;
use std::time::Duration;

/// Limits every listener of the process applies (api, services, metrics, codec server).
#[derive(Debug, Clone, Args)]
pub struct Listener {
    /// A request's headers must arrive within this; a client that sends half a request and
    /// waits is dropped after it.
    #[arg(long, env = "BAEDAL_HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,
    /// The most bytes of request line and headers a request may have (431 past it; at least
    /// 8 KiB).
    #[arg(long, env = "BAEDAL_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
}

impl Listener {
    pub fn limits(&self) -> ServeLimits {
        ServeLimits {
            header_read_timeout: self.header_read_timeout,
            max_header_bytes: self.max_header_bytes,
        }
    }
}

/// The fault switches of the payment and notification services (`/v1/admin/faults`).
#[derive(Debug, Clone, Args)]
pub struct FaultInjection {
    /// Serve `/v1/admin/faults`, which makes this service slow, flaky or unavailable: for
    /// tests and demos only (`baedal dev` and the test suites set it; a deployment never does,
    /// and then the route does not exist).
    #[arg(long, env = "BAEDAL_ENABLE_FAULT_INJECTION", default_value_t = false, value_parser = clap::builder::BoolishValueParser::new())]
    pub enable_fault_injection: bool,
}

/// Outside dev, `url` (the setting `name`) must be https: a token, a card or a message would
/// otherwise cross the network in the clear. A loopback address (`localhost`, 127.0.0.0/8,
/// `::1`: a sidecar or a stand-in on the same host) never crosses the network, so it may stay
/// http. With `in_cluster`, so may a service address inside the cluster (`*.svc`,
/// `*.svc.cluster.local`): NetworkPolicy confines who reaches it (the payment service
/// stand-in).
pub fn require_https(name: &str, url: &str, in_cluster: bool) -> anyhow::Result<()> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("https://") {
        return Ok(());
    }
    if let Some(rest) = lower.strip_prefix("http://") {
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        // Userinfo is not a host: `http://127.0.0.1@evil.example` goes to evil.example.
        let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = match authority.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => authority,
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        let in_cluster_service =
            in_cluster && (host.ends_with(".svc") || host.ends_with(".svc.cluster.local"));
        if loopback || in_cluster_service {
            return Ok(());
        }
    }
    anyhow::bail!(
        "{name} must be an https:// URL outside `baedal dev` (it is {url:?}): what crosses it \
         would otherwise be readable and forgeable on the network{}",
        if in_cluster {
            " (a cluster-internal http://<service>.<namespace>.svc address is allowed)"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::require_https;

    #[test]
    fn https_outside_dev_with_cluster_services_allowed_where_asked() {
        assert!(require_https("X", "https://idp.example/jwks.json", false).is_ok());
        assert!(require_https("X", "http://idp.example/jwks.json", false).is_err());
        assert!(require_https("X", "http://payment.baedal.svc.cluster.local:8081", false).is_err());
        assert!(require_https("X", "http://payment.baedal.svc.cluster.local:8081", true).is_ok());
        assert!(require_https("X", "http://127.0.0.1:8081", true).is_ok());
        // Loopback never crosses the network; userinfo does not make a host loopback.
        assert!(require_https("X", "http://127.0.0.1:9000/v2/send", false).is_ok());
        assert!(require_https("X", "http://[::1]:9000", false).is_ok());
        assert!(require_https("X", "http://127.0.0.1@evil.example/", false).is_err());
        assert!(require_https("X", "http://localhost.evil.example/", false).is_err());
        assert!(require_https("X", "http://psp.example.com", true).is_err());
        assert!(require_https("X", "http://evil.svc.example.com", true).is_err());
        let e = require_https("BAEDAL_JWT_JWKS_URL", "http://idp", false).unwrap_err();
        assert!(e.to_string().contains("BAEDAL_JWT_JWKS_URL"), "{e}");
    }
}
