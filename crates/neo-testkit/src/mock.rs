//! A local HTTP server standing in for Slack, Telegram or a webhook receiver:
//! it records every request (path, headers, body, arrival time) and answers
//! with a status the test chooses (changeable while it runs), with the bodies
//! those services document (`ok` for Slack, `{"ok":true,...}` for Telegram's
//! `sendMessage` and `getMe`).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the mock received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request path (with the Telegram bot token in it).
    pub path: String,
    /// Header name -> value, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (Null when it was not JSON).
    pub body: Value,
    /// When it arrived (wall clock, nanoseconds since the epoch).
    pub at_nanos: i64,
}

#[derive(Debug)]
struct Inner {
    seen: Mutex<Vec<Recorded>>,
    status: AtomicU16,
}

/// A running mock; stops when dropped.
#[derive(Debug)]
pub struct MockHttp {
    /// Where it listens.
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    task: tokio::task::JoinHandle<()>,
}

#[allow(clippy::disallowed_methods)] // Arrival times are measured on the wall clock.
fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

async fn record(
    axum::extract::State(inner): axum::extract::State<Arc<Inner>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let status = StatusCode::from_u16(inner.status.load(Ordering::Relaxed))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let recorded = Recorded {
        path: uri.path().to_owned(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at_nanos: now_nanos(),
    };
    let telegram = recorded.path.contains("/sendMessage");
    if status.is_success() && recorded.path.ends_with("/getMe") {
        // Telegram's getMe: the bot the token belongs to.
        inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recorded);
        let me = json!({ "ok": true, "result": { "id": 1, "is_bot": true, "first_name": "NEO", "username": "neo_mock_bot" } });
        return (status, axum::Json(me)).into_response();
    }
    inner
        .seen
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded);
    match (status.is_success(), telegram) {
        (true, true) => (status, axum::Json(json!({ "ok": true, "result": { "message_id": 1 } }))).into_response(),
        (true, false) => (status, "ok").into_response(),
        (false, true) => (status, axum::Json(json!({ "ok": false, "error_code": status.as_u16(), "description": "mock failure" }))).into_response(),
        (false, false) => (status, "mock failure").into_response(),
    }
}

impl MockHttp {
    /// Starts on a free local port, answering 200.
    pub async fn start() -> std::io::Result<MockHttp> {
        let inner = Arc::new(Inner {
            seen: Mutex::new(Vec::new()),
            status: AtomicU16::new(200),
        });
        let app = Router::new().fallback(record).with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockHttp { addr, inner, task })
    }

    /// `http://127.0.0.1:<port>` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every later request with `status`.
    pub fn set_status(&self, status: u16) {
        self.inner.status.store(status, Ordering::Relaxed);
    }

    /// Everything received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits up to `timeout` until at least `n` requests arrived; returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let seen = self.requests();
            if seen.len() >= n || tokio::time::Instant::now() >= deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for MockHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}
