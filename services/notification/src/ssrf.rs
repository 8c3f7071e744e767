//! Where a webhook may point: not at baedal's own network. A hook's URL is chosen by a store
//! owner or ops, and the notification service calls it from inside the deployment, so an
//! address in a private, loopback, link-local, unique-local or cloud-metadata range would let a
//! hook reach what the internet must not (server-side request forgery).
//!
//! Checked twice: when a hook is registered (422) and at every delivery, on the addresses the
//! connection actually uses (DNS can change between the two), through [`GuardedResolver`].
//! `BAEDAL_HOOKS_ALLOW_PRIVATE=1` lifts it, for tests with a local receiver.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Why a hook's target is refused, in words its owner can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the hook URL is not a valid absolute URL: {0}")]
    Invalid(String),
    #[error(
        "hook URLs must use https (plain http only where BAEDAL_HOOKS_ALLOW_PRIVATE=1, for tests)"
    )]
    NotHttps,
    #[error("hook URLs must not carry credentials")]
    Credentials,
    /// Neither the address nor its range is named, and a name that does not resolve reads the
    /// same: otherwise a hook's owner could map the names and addresses of the network the
    /// notification service sees (the log has the detail).
    #[error(
        "{host} does not resolve to a public internet address: hooks must point at the public internet"
    )]
    Private {
        host: String,
        addr: IpAddr,
        range: &'static str,
    },
    #[error(
        "{0} does not resolve to a public internet address: hooks must point at the public internet"
    )]
    Unresolvable(String),
    /// An address written in the URL: its range is named (the caller wrote the address; the
    /// answer tells nothing of the network behind).
    #[error("{host} is a {range} address: hooks must point at the public internet")]
    Literal { host: String, range: &'static str },
}

/// The range `ip` is in when a hook must not reach it, or `None` for a public address.
pub fn forbidden_range(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

/// IPv6: only global unicast (2000::/3) may be reached, and within it not the ranges that
/// tunnel or translate to IPv4 (6to4 2002::/16, Teredo in 2001::/23, NAT64 64:ff9b::/96 and
/// 64:ff9b:1::/48, which a gateway turns into any IPv4 address, private ones included) nor the
/// documentation and special-purpose ones.
fn forbidden_v6(v6: std::net::Ipv6Addr) -> Option<&'static str> {
    // IPv4 written as IPv6 (::ffff:a.b.c.d) is the IPv4 address it carries.
    if let Some(v4) = v6.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = v6.segments();
    if v6.is_unspecified() {
        Some("unspecified")
    } else if v6.is_loopback() {
        Some("loopback")
    } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
        // IPv4-compatible (deprecated) ::a.b.c.d
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        forbidden_v4(Ipv4Addr::new(a, b, c, d)).or(Some("IPv4-compatible"))
    } else if s[0..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        Some("IPv4-translated (SIIT)")
    } else if s[0] == 0x64 && s[1] == 0xff9b && (s[2] == 1 || s[2..6] == [0, 0, 0, 0]) {
        Some("NAT64")
    } else if s[0] == 0x100 && s[1..4] == [0, 0, 0] {
        Some("discard-only")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("unique-local")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] & 0xffc0) == 0xfec0 {
        Some("site-local")
    } else if (s[0] & 0xff00) == 0xff00 {
        Some("multicast")
    } else if (s[0] & 0xe000) != 0x2000 {
        Some("reserved (not global unicast)")
    } else if s[0] == 0x2002 {
        Some("6to4")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 || (s[0] & 0xfff0) == 0x3ff0 {
        Some("documentation")
    } else if s[0] == 0x2001 && s[1] < 0x0200 {
        // 2001::/23: Teredo (2001::/32), benchmarking, ORCHID and other IETF assignments.
        Some("Teredo or IETF special-purpose")
    } else {
        None
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(169, 254, 170, 2) {
        Some("cloud metadata")
    } else if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("shared (carrier-grade NAT)")
    } else if a == 198 && (b == 18 || b == 19) {
        Some("benchmarking")
    } else if a == 192 && b == 0 && ip.octets()[2] == 0 {
        Some("IETF protocol assignments")
    } else if a == 192 && b == 88 && ip.octets()[2] == 99 {
        Some("6to4 relay anycast")
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        Some("multicast or reserved")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

/// What a hook URL must look like; `allow_private` (tests, dev) also allows plain http.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, Refused> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Refused::Invalid(e.to_string()))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(Refused::NotHttps),
        other => return Err(Refused::Invalid(format!("scheme {other} is not http(s)"))),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused::Credentials);
    }
    if parsed.host_str().is_none() {
        return Err(Refused::Invalid("no host".into()));
    }
    Ok(parsed)
}

/// Resolve `url`'s host and refuse it when any address it resolves to is forbidden.
pub async fn check_target(url: &reqwest::Url, allow_private: bool) -> Result<(), Refused> {
    if allow_private {
        return Ok(());
    }
    let host = url.host_str().unwrap_or_default().to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = resolve(&host, port)
        .await
        .map_err(|_| Refused::Unresolvable(host.clone()))?;
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok();
    for addr in &addrs {
        if let Some(range) = forbidden_range(addr.ip()) {
            tracing::info!(%host, addr = %addr.ip(), range, "hook target refused");
            if literal {
                return Err(Refused::Literal { host, range });
            }
            return Err(Refused::Private {
                host,
                addr: addr.ip(),
                range,
            });
        }
    }
    if addrs.is_empty() {
        return Err(Refused::Unresolvable(host));
    }
    Ok(())
}

async fn resolve(host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    Ok(tokio::net::lookup_host((host, port)).await?.collect())
}

/// The delivery client's resolver: the addresses a connection may use are those [`check_target`]
/// would allow, looked up at connect time, so a name that moved to a private address after
/// registration is refused then (no redirect is followed either).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| forbidden_range(a.ip()).is_none())
                .collect();
            if allowed.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An IP-literal URL skips the resolver: check it before sending.
pub fn literal_forbidden(url: &reqwest::Url) -> Option<&'static str> {
    let host = url
        .host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']');
    forbidden_range(host.parse::<IpAddr>().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(s: &str) -> Option<&'static str> {
        forbidden_range(s.parse().unwrap())
    }

    #[test]
    fn every_internal_range_is_refused_in_both_families_and_mapped_forms() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.1.1",
            "169.254.169.254",
            "169.254.170.2",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            // Probed in review: the 6to4 relay anycast and the IETF protocol assignments.
            "192.88.99.1",
            "192.0.0.170",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::7f00:1",
            // Transition and special-purpose ranges, even when they carry a public IPv4.
            "2002:808:808::1",
            "2002:a00:1::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:2::1",
            "2001:20::1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "::ffff:0:a00:1",
            "100::1",
            "3fff::1",
            "2001:db8::1",
            "5f00::1",
            "4000::1",
        ] {
            assert!(range(ip).is_some(), "{ip} must be refused");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "203.0.114.1",
            "192.0.1.1",
            "192.88.98.1",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(range(ip), None, "{ip} is public");
        }
        assert_eq!(range("169.254.169.254"), Some("cloud metadata"));
    }

    #[test]
    fn urls_must_be_https_without_credentials() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            check_url("http://hooks.example.com/x", false).unwrap_err(),
            Refused::NotHttps
        );
        assert!(check_url("http://127.0.0.1:9/x", true).is_ok());
        assert_eq!(
            check_url("https://u:p@hooks.example.com/", false).unwrap_err(),
            Refused::Credentials
        );
        assert!(check_url("ftp://x/", false).is_err());
        assert!(check_url("not a url", false).is_err());
    }

    #[tokio::test]
    async fn registration_resolves_and_refuses_internal_targets() {
        for url in [
            "https://127.0.0.1/hook",
            "https://[::1]/hook",
            "https://[::ffff:169.254.169.254]/latest",
            "https://localhost/hook",
            "https://10.0.0.5:8443/hook",
        ] {
            let u = check_url(url, false).unwrap();
            assert!(
                matches!(
                    check_target(&u, false).await,
                    Err(Refused::Private { .. } | Refused::Literal { .. })
                ),
                "{url}"
            );
        }
        // A name is refused as a name (the range it resolved to is not told); an address
        // written in the URL with its range.
        let name = check_target(&check_url("https://localhost/hook", false).unwrap(), false).await;
        assert!(matches!(name, Err(Refused::Private { .. })), "{name:?}");
        let literal =
            check_target(&check_url("https://10.0.0.5/hook", false).unwrap(), false).await;
        assert!(
            matches!(
                literal,
                Err(Refused::Literal {
                    range: "private",
                    ..
                })
            ),
            "{literal:?}"
        );
        let u = check_url("https://127.0.0.1/hook", false).unwrap();
        assert!(check_target(&u, true).await.is_ok(), "allowed for tests");
        assert_eq!(
            literal_forbidden(&check_url("https://[fd00::1]/x", false).unwrap()),
            Some("unique-local")
        );
    }
}
