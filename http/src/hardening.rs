//! Response headers every baedal door sends, whatever the route: `X-Content-Type-Options:
//! nosniff` on every answer (a browser must not guess a JSON error into HTML);
//! `Cache-Control: no-store` on every answer to a request that carried credentials (a personal
//! answer must not sit in a shared or browser cache); `Strict-Transport-Security` when the
//! request came over TLS (the gateway terminates it and says so in `X-Forwarded-Proto` or
//! `Forwarded`), so a browser never tries plain http again.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// One year, subdomains included: what HSTS preload lists ask for.
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The middleware (`axum::middleware::from_fn(security_headers)`).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let personal = req.headers().contains_key(header::AUTHORIZATION);
    let tls = came_over_tls(req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if personal {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if tls {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    resp
}

/// Whether the proxy in front says the client's connection was https. (A client could claim
/// it on a plain connection; the only effect is a header that asks its own browser for https.)
fn came_over_tls(headers: &HeaderMap) -> bool {
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned())
    };
    if let Some(proto) = first("x-forwarded-proto") {
        return proto.eq_ignore_ascii_case("https");
    }
    first("forwarded").is_some_and(|f| {
        f.split(';').any(|kv| {
            kv.trim().split_once('=').is_some_and(|(k, v)| {
                k.eq_ignore_ascii_case("proto") && v.trim_matches('"').eq_ignore_ascii_case("https")
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_read_from_the_proxy_headers() {
        let mut h = HeaderMap::new();
        assert!(!came_over_tls(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https, http"));
        assert!(came_over_tls(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        assert!(!came_over_tls(&h));
        let mut f = HeaderMap::new();
        f.insert(
            "forwarded",
            HeaderValue::from_static("for=1.2.3.4;proto=https;host=x"),
        );
        assert!(came_over_tls(&f));
    }
}
