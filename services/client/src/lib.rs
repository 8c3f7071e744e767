//! Calling one of baedal's internal services (payment, notification) over HTTP: the base URL,
//! the service token, the timeouts, and what a failed call means ([`CallError`]).
//!
//! It is the transport under the typed clients `baedal-payment-client` and
//! `baedal-notification-client`, which declare each service's requests and answers; it is kept
//! apart so the two share one way of calling and of reading an error answer. When the process
//! traces (`baedal-telemetry`), each call is a client span under the caller's current context
//! (an activity's, an api request's) and carries its `traceparent`, so the service's own span
//! joins the same trace. It must not know any service's paths or types, and must not depend on
//! any server code (axum, sqlx).

use opentelemetry::trace::{FutureExt as _, SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Why a call to another service failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("{service} unreachable: {source}")]
    Unreachable {
        service: &'static str,
        #[source]
        source: reqwest::Error,
    },
    /// A non-2xx answer; `code` is the error code of the body when it has the error shape
    /// (`{"error": {"code", "message"}}`), `body` the whole answer (the error message shows
    /// its first 300 characters).
    #[error("{service} answered {status} {}: {}", code.as_deref().unwrap_or("(no code)"),
        body.chars().take(300).collect::<String>())]
    Status {
        service: &'static str,
        status: u16,
        code: Option<String>,
        body: String,
        /// The answer's `Retry-After` (a 429 or 503), for a caller that passes the answer on.
        retry_after: Option<String>,
    },
    /// The service answered, but its answer says this request can never succeed: a charge
    /// key that stands for other money, or for a charge refunded or voided since. Asking
    /// again gets the same answer, and it says nothing about the service's health.
    #[error("{service} refused ({code}): {message}")]
    Refused {
        service: &'static str,
        code: String,
        message: String,
    },
    /// A 2xx answer that does not settle the request (say, a refund of another amount):
    /// never taken as done, and retried, since the ledger may be fixed meanwhile.
    #[error("{service} answered something else than asked ({code}): {message}")]
    Unexpected {
        service: &'static str,
        code: &'static str,
        message: String,
    },
}

impl CallError {
    /// A refusal the same request will get again: [`CallError::Refused`], or a 4xx other than
    /// timeout, too-many-requests and conflict. Everything else (unreachable, 5xx, 408, 429,
    /// 409, an unexpected answer) may pass on a retry.
    pub fn is_permanent(&self) -> bool {
        match self {
            CallError::Refused { .. } => true,
            CallError::Status { status, .. } => {
                (400..500).contains(status) && ![408, 409, 429].contains(status)
            }
            CallError::Unreachable { .. } | CallError::Unexpected { .. } => false,
        }
    }

    /// Whether the service judged the request itself (a 4xx, a refusal, an answer that does
    /// not settle it), as opposed to being down, failing or unreachable (5xx, no answer). An
    /// alert on refusals counts only these: an outage has alerts of its own (the breaker), and
    /// one outage must not page twice.
    pub fn is_judgement(&self) -> bool {
        match self {
            CallError::Status { status, .. } => *status < 500,
            CallError::Refused { .. } | CallError::Unexpected { .. } => true,
            CallError::Unreachable { .. } => false,
        }
    }

    /// The error code of the answer, or of the refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Status { code, .. } => code.as_deref(),
            CallError::Refused { code, .. } => Some(code),
            CallError::Unexpected { code, .. } => Some(code),
            CallError::Unreachable { .. } => None,
        }
    }
}

/// reqwest is built with rustls but no default crypto provider (the Temporal SDK picks ring):
/// install ring once per process before building a client. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// HTTP client for one internal service: base URL plus the service token.
#[derive(Clone, Debug)]
pub struct ServiceClient {
    service: &'static str,
    http: reqwest::Client,
    base_url: String,
    token: String,
}

impl ServiceClient {
    /// A client of `service` (its name in errors and logs) with its own connection pool and
    /// short timeouts: the callers (activities) have budgets of seconds.
    pub fn new(
        service: &'static str,
        base_url: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .pool_max_idle_per_host(32)
            .build()
            .expect("reqwest client with static settings");
        Self::with_http(service, http, base_url, token)
    }

    /// A client of `service` over an existing connection pool (the caller's timeouts).
    pub fn with_http(
        service: &'static str,
        http: reqwest::Client,
        base_url: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        Self {
            service,
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            token: token.into(),
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A request to `path`, carrying the service token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request_with_query(method, path, &[])
    }

    /// A request to `path` with the query `pairs` (encoded here), carrying the service token.
    pub fn request_with_query(
        &self,
        method: reqwest::Method,
        path: &str,
        pairs: &[(&str, &str)],
    ) -> reqwest::RequestBuilder {
        let mut url = format!("{}{path}", self.base_url);
        if !pairs.is_empty() {
            url.push('?');
            url.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish(),
            );
        }
        self.http.request(method, url).bearer_auth(&self.token)
    }

    /// Send `req`; a 2xx answer is returned, anything else is an error. Traced (see the
    /// crate's docs) when the process traces.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, CallError> {
        let unreachable = |source| CallError::Unreachable {
            service: self.service,
            source,
        };
        let (client, built) = req.build_split();
        let mut request = built.map_err(unreachable)?;
        let span = baedal_telemetry::start_span(
            &Context::current(),
            format!("{} {}", request.method(), self.service),
            SpanKind::Client,
            vec![
                KeyValue::new("http.request.method", request.method().as_str().to_owned()),
                KeyValue::new("server.address", self.service),
                KeyValue::new("url.path", request.url().path().to_owned()),
            ],
        );
        let sent = match &span {
            Some(cx) => {
                baedal_telemetry::inject(cx, request.headers_mut());
                client.execute(request).with_context(cx.clone()).await
            }
            None => client.execute(request).await,
        };
        if let Some(cx) = span {
            let span = cx.span();
            match &sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    span.set_attribute(KeyValue::new(
                        "http.response.status_code",
                        i64::from(status),
                    ));
                    if status >= 400 {
                        span.set_status(Status::error(""));
                    }
                }
                Err(e) => span.set_status(Status::error(e.to_string())),
            }
            span.end();
        }
        let resp = sent.map_err(unreachable)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(self.error_answer(resp).await)
        }
    }

    /// Send `req` and read its 2xx answer as `T`.
    pub async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, CallError> {
        self.send(req)
            .await?
            .json()
            .await
            .map_err(|source| CallError::Unreachable {
                service: self.service,
                source,
            })
    }

    async fn error_answer(&self, resp: reqwest::Response) -> CallError {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await.unwrap_or_default();
        let code = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned));
        CallError::Status {
            service: self.service,
            status,
            code,
            body,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CallError;

    fn status(status: u16, code: &str) -> CallError {
        CallError::Status {
            service: "payment",
            status,
            code: Some(code.to_owned()),
            body: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn an_outage_is_not_a_judgement_of_the_request() {
        assert!(!status(503, "unavailable").is_judgement());
        assert!(!status(500, "injected_error").is_judgement());
        assert!(status(422, "invalid_amount").is_judgement());
        assert!(status(409, "refund_exceeds_charge").is_judgement());
        let refused = CallError::Refused {
            service: "payment",
            code: "refunded".into(),
            message: String::new(),
        };
        assert!(refused.is_judgement());
    }
}
