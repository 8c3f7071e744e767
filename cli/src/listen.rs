//! Serving a router on a listener with limits on what a client may hold open: every baedal
//! listener (api, payment, notification, codec server, metrics) goes through [`serve`].
//!
//! `axum::serve` has no header-read timeout and no header size limit, so a client that sends
//! half a request line and then nothing holds a connection (and its task) for as long as it
//! likes: measured, 45 s and counting. Here hyper's own connection builder is configured (the
//! maintained knobs `header_read_timeout` and `max_buf_size`), connections shut down gracefully
//! when `shutdown` resolves, and each request carries the peer's address as
//! `axum::extract::ConnectInfo<SocketAddr>`, as `into_make_service_with_connect_info` would.

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// What a client may hold of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// A request's headers must have arrived within this of the first byte (or of the
    /// connection opening); past it the connection is dropped.
    pub header_read_timeout: Duration,
    /// The most bytes of request line and headers read before the request is refused (431);
    /// hyper's floor is 8 KiB.
    pub max_header_bytes: usize,
}

impl Default for ServeLimits {
    /// 10 s for the headers (a phone on a bad network sends them in well under that), 16 KiB
    /// of them (a bearer token and a few cookies fit several times over).
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
        }
    }
}

/// Serve `app` on `listener` until `shutdown` resolves, then let open connections finish.
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Reap finished connections as they go.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<_>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            async move { tower::Service::call(&mut app, req).await }
        });
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            tokio::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    r = conn.as_mut() => {
                        if let Err(e) = r {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    while conns.join_next().await.is_some() {}
    Ok(())
}
