//! The browser front end: one page per party (customer, store owner, rider, ops) and the
//! public tracking link, served as static files compiled into the binary.
//!
//! The pages are plain ES modules under `static/` with no build step, so `./scripts/dev` and CI
//! serve them without npm. They talk to baedal only through the public v1 JSON API with the
//! same bearer token every other client sends (live status by reading the same SSE streams
//! with `fetch`, since `EventSource` cannot send a token): this crate must hold no business
//! rule, reach no database or workflow, and add no endpoint a page could use that another
//! client could not.
//!
//! Assets are served under `/assets/<version>/…`, where the version is a hash of every file:
//! a browser caches them for a year and a release changes every URL at once. The page itself
//! (`/`) is never cached and carries a Content-Security-Policy that admits only this origin's
//! scripts and styles: no inline script, no `eval`, no third-party origin.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};
use std::sync::{Arc, LazyLock};

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The policy of the page: scripts, styles, fonts and images only from this origin (images
/// also as `data:` for the generated map), API calls only to this origin, never framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What the pages need to know about the process serving them.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// `baedal dev`: the sign-in page offers dev tokens (`POST /v1/dev/tokens`).
    pub dev_mode: bool,
    /// The Temporal Web UI's base URL and the namespace, for ops' links to an order's
    /// workflow.
    pub temporal_ui: Option<String>,
    pub namespace: String,
}

/// The hash of every embedded file (path and content), the `<version>` of asset URLs.
/// Computed once in a release build; in a debug build at each call, since the files are read
/// from disk there and an edit must change the URLs the page names.
pub fn version() -> String {
    static VERSION: LazyLock<String> = LazyLock::new(hash_of_assets);
    if cfg!(debug_assertions) {
        hash_of_assets()
    } else {
        VERSION.clone()
    }
}

fn hash_of_assets() -> String {
    let mut names: Vec<_> = Assets::iter().collect();
    names.sort();
    let mut hash = Sha256::new();
    for name in names {
        let file = Assets::get(&name).expect("listed file");
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(file.metadata.sha256_hash());
    }
    hex::encode(&hash.finalize()[..6])
}

/// `GET /` (the page) and `GET /assets/{version}/{*path}` (its files).
pub fn router<S: Clone + Send + Sync + 'static>(config: WebConfig) -> Router<S> {
    let config = Arc::new(config);
    Router::new()
        .route(
            "/",
            get(move || {
                let config = config.clone();
                async move { page_response(&page(&config)) }
            }),
        )
        .route("/assets/{version}/{*path}", get(asset))
}

/// `index.html` with the asset version and the process's settings filled in.
fn page(config: &WebConfig) -> String {
    let template = Assets::get("index.html").expect("static/index.html is embedded");
    let template = std::str::from_utf8(&template.data).expect("index.html is UTF-8");
    template
        .replace("{{version}}", &version())
        .replace("{{dev}}", if config.dev_mode { "true" } else { "false" })
        .replace(
            "{{temporal_ui}}",
            &attribute(config.temporal_ui.as_deref().unwrap_or("")),
        )
        .replace("{{namespace}}", &attribute(&config.namespace))
}

/// `value` safe inside a double-quoted HTML attribute.
fn attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn page_response(page: &str) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.to_owned(),
    )
        .into_response();
    let h = resp.headers_mut();
    // Revalidated on every load, so a release is seen at once; the assets it names are cached.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

async fn asset(Path((asked, path)): Path<(String, String)>) -> Response {
    // The page itself is not an asset (it is served filled in, at `/`).
    let Some(file) = Assets::get(&path).filter(|_| path != "index.html") else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"error":{"code":"asset_not_found","message":"no such file: reload the page"}}"#,
        )
            .into_response();
    };
    // A page of the previous release asking during a rollout gets today's file, but not for
    // a year: only the current version's URLs are immutable.
    let cache = if asked == version() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, content_type(&path)),
            (header::CACHE_CONTROL, cache),
        ],
        file.data,
    )
        .into_response()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") | Some("webmanifest") => "application/json",
        Some("png") => "image/png",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    async fn get(uri: &str) -> Response {
        router::<()>(WebConfig {
            dev_mode: true,
            temporal_ui: Some("http://ui/\"x".into()),
            namespace: "default".into(),
        })
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn the_page_names_versioned_assets_under_a_strict_policy() {
        let resp = get("/").await;
        assert_eq!(resp.status(), 200);
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-cache");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains(&format!("/assets/{}/app.js", version())));
        assert!(!html.contains("{{"), "every placeholder is filled");
        assert!(html.contains("http://ui/&quot;x"), "settings are escaped");
        // No inline script: every <script> names a file of this origin.
        for tag in html.split("<script").skip(1) {
            assert!(tag.contains("src=\"/assets/"), "inline script: {tag}");
        }
    }

    #[tokio::test]
    async fn only_the_current_versions_assets_are_immutable() {
        let current = get(&format!("/assets/{}/app.js", version())).await;
        assert_eq!(current.status(), 200);
        assert_eq!(
            current.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert!(
            current.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let old = get("/assets/0123456789ab/app.js").await;
        assert_eq!(old.status(), 200);
        assert_eq!(old.headers()[header::CACHE_CONTROL], "no-cache");
        assert_eq!(get("/assets/x/nothing.js").await.status(), 404);
        assert_eq!(get("/assets/x/index.html").await.status(), 404);
        assert_eq!(get("/assets/x/../Cargo.toml").await.status(), 404);
    }

    #[test]
    fn every_module_an_asset_imports_is_embedded() {
        // A typo in an import path is a blank page in the browser: catch it here.
        for name in Assets::iter().filter(|n| n.ends_with(".js")) {
            let file = Assets::get(&name).unwrap();
            let src = std::str::from_utf8(&file.data).unwrap();
            let dir = name.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for line in src.lines().filter(|l| l.starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    Assets::get(&target).is_some(),
                    "{name} imports {spec}: {target} is not embedded"
                );
            }
        }
    }
}
