//! The HTTP edge's limits, for a server that faces the internet: connections
//! capped in total and per address, a header read timeout (which also closes
//! idle keep-alive connections: hyper reads the next request's header from the
//! moment the previous answer is sent), a deadline on every request including
//! its body, a declared body over the limit refused before it is read, and
//! `Connection: close` on 429 so a flooding client loses its connection.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Deserialize;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// Files the process needs besides its connections (store, logs, the bus).
const RESERVED_FILES: u64 = 64;

/// `[server.limits]`: what one client may hold of the server.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Seconds a client has to send a request's header, and the longest an idle
    /// keep-alive connection is kept (default 10).
    pub header_timeout_secs: u64,
    /// Seconds a request may take from its header to the answer, body included
    /// (default 30): a slow body is cut with 408.
    pub request_timeout_secs: u64,
    /// Open connections in all (default 4096; kept under the open-file limit).
    pub max_connections: usize,
    /// Open connections from one address (default 256).
    pub max_connections_per_ip: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout_secs: 10,
            request_timeout_secs: 30,
            max_connections: 4096,
            max_connections_per_ip: 256,
        }
    }
}

impl HttpLimits {
    /// Every problem at once.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [
            ("header_timeout_secs", self.header_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
        ] {
            if !(1..=3600).contains(&value) {
                problems.push(format!(
                    "server.limits.{name} must be 1 to 3600, got {value}"
                ));
            }
        }
        if self.max_connections == 0 {
            problems.push("server.limits.max_connections must be above 0".to_owned());
        }
        if self.max_connections_per_ip == 0 || self.max_connections_per_ip > self.max_connections {
            problems.push(format!(
                "server.limits.max_connections_per_ip must be 1 to max_connections ({}), got {}",
                self.max_connections, self.max_connections_per_ip
            ));
        }
        problems
    }
}

/// Open connections per address, released when a connection ends.
#[derive(Debug, Default, Clone)]
struct PerAddress(Arc<Mutex<HashMap<IpAddr, usize>>>);

/// One connection's hold on its address's count.
struct AddressPermit {
    counts: PerAddress,
    ip: IpAddr,
}

impl PerAddress {
    fn try_take(&self, ip: IpAddr, max: usize) -> Option<AddressPermit> {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counts.entry(ip).or_default();
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressPermit {
            counts: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = counts.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` within `limits` until `stop` resolves, then lets
/// the open connections finish their requests (closing idle ones at once).
/// `max_body_bytes` is the largest body any route takes.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &HttpLimits,
    max_body_bytes: usize,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let edge = Edge {
        max_body_bytes,
        request_timeout: Duration::from_secs(limits.request_timeout_secs),
    };
    let app = app.layer(axum::middleware::from_fn_with_state(edge, edge_limits));
    if let Some((soft, _)) = raise_open_file_limit()
        && soft < limits.max_connections as u64 + RESERVED_FILES
    {
        tracing::warn!(
            open_file_limit = soft,
            max_connections = limits.max_connections,
            "the open-file limit is below max_connections: past it, new connections fail to open (raise `ulimit -n` or lower server.limits.max_connections)"
        );
    }
    let total = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = PerAddress::default();
    let (closing, closed) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors or a connection reset while queued: keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let Ok(slot) = total.clone().try_acquire_owned() else {
            metrics::counter!("neo_http_connections_refused_total", "reason" => "total")
                .increment(1);
            continue;
        };
        let Some(mine) = per_address.try_take(peer.ip(), limits.max_connections_per_ip) else {
            metrics::counter!("neo_http_connections_refused_total", "reason" => "per_ip")
                .increment(1);
            continue;
        };
        let connection = Connection {
            app: app.clone(),
            peer,
            header_timeout: Duration::from_secs(limits.header_timeout_secs),
            closed: closed.clone(),
        };
        connections.spawn(connection.run(stream, slot, mine));
    }
    let _ = closing.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// One accepted connection and what it needs.
struct Connection {
    app: Router,
    peer: SocketAddr,
    header_timeout: Duration,
    closed: watch::Receiver<bool>,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, _slot: OwnedSemaphorePermit, _mine: AddressPermit) {
        let (app, peer) = (self.app, self.peer);
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(axum::body::Body::new))
            });
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.header_timeout);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        loop {
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, %peer, "connection ended with an error");
                    }
                    break;
                }
                changed = self.closed.changed() => {
                    conn.as_mut().graceful_shutdown();
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// What every request is held to.
#[derive(Debug, Clone, Copy)]
struct Edge {
    max_body_bytes: usize,
    request_timeout: Duration,
}

/// A declared body over the limit is refused before a byte of it is read; a
/// request past its deadline is 408; a 429 closes the connection.
async fn edge_limits(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > edge.max_body_bytes as u64) {
        return closing(refusal(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("body larger than {} bytes", edge.max_body_bytes),
        ));
    }
    let mut response = match tokio::time::timeout(edge.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            return closing(refusal(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request took longer than {} s (a slow body is cut)",
                    edge.request_timeout.as_secs()
                ),
            ));
        }
    };
    if response.status() == StatusCode::TOO_MANY_REQUESTS {
        response = closing(response);
    }
    response
}

fn refusal(status: StatusCode, code: &str, message: String) -> Response {
    let body = json!({ "error": code, "message": message, "details": [] });
    (status, axum::Json(body)).into_response()
}

fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Raises the soft open-file limit to the hard one (each connection is a file)
/// and says how many the process may now open: `(soft, hard)`, or `None` where
/// the limit cannot be read.
pub fn raise_open_file_limit() -> Option<(u64, u64)> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current.is_none_or(|soft| soft < hard)
    {
        limit.current = Some(hard);
        if let Err(e) = setrlimit(Resource::Nofile, limit) {
            tracing::warn!(error = %e, "could not raise the open-file limit");
        }
    }
    let now = getrlimit(Resource::Nofile);
    Some((now.current?, now.maximum.unwrap_or(u64::MAX)))
}
