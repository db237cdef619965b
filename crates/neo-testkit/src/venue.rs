//! A local exchange standing in for Binance, Coinbase or Kraken: a WebSocket
//! server that records what clients send (their subscriptions) and pushes
//! whatever text the test gives it, and a REST server answering candle
//! requests from a function the test supplies. The test can drop every
//! connection, go silent (keep sockets open, send and answer nothing), go
//! down (refuse connections, REST 503), throttle REST (429 with
//! `Retry-After`, or a 200 with the venue's rate-limit error as Kraken does),
//! ping clients, and go deaf (keep sending but read nothing, so the clients'
//! pings go unanswered). It counts the pongs clients send back.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response as WsResponse};

/// Answers a REST request (path and query) with a status and a body.
pub type RestHandler = Box<dyn Fn(&str) -> (u16, String) + Send + Sync>;

enum Command {
    Text(String),
    Ping,
    Deafen,
    Drop,
    Silence,
}

/// How the next throttled REST requests are answered.
struct Throttle {
    left: usize,
    retry_after_secs: u64,
    /// `Some`: a 200 with this body (Kraken); `None`: a 429 with `Retry-After`.
    body: Option<String>,
}

struct State {
    clients: Mutex<Vec<mpsc::Sender<Command>>>,
    received: Mutex<Vec<String>>,
    paths: Mutex<Vec<String>>,
    rest_seen: Mutex<Vec<String>>,
    accepted: AtomicUsize,
    sent: AtomicUsize,
    pongs: AtomicUsize,
    down: AtomicBool,
    throttle: Mutex<Throttle>,
    rest: RestHandler,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running mock exchange; stops when dropped.
pub struct MockVenue {
    /// The WebSocket server.
    pub ws_addr: SocketAddr,
    /// The REST server.
    pub rest_addr: SocketAddr,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for MockVenue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockVenue")
            .field("ws_addr", &self.ws_addr)
            .field("rest_addr", &self.rest_addr)
            .finish()
    }
}

impl Drop for MockVenue {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.drop_clients();
    }
}

impl MockVenue {
    /// Starts both servers on free local ports.
    pub async fn start(
        rest: impl Fn(&str) -> (u16, String) + Send + Sync + 'static,
    ) -> std::io::Result<MockVenue> {
        let state = Arc::new(State {
            clients: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
            paths: Mutex::new(Vec::new()),
            rest_seen: Mutex::new(Vec::new()),
            accepted: AtomicUsize::new(0),
            sent: AtomicUsize::new(0),
            pongs: AtomicUsize::new(0),
            down: AtomicBool::new(false),
            throttle: Mutex::new(Throttle {
                left: 0,
                retry_after_secs: 0,
                body: None,
            }),
            rest: Box::new(rest),
        });
        let ws = TcpListener::bind("127.0.0.1:0").await?;
        let ws_addr = ws.local_addr()?;
        let rest_listener = TcpListener::bind("127.0.0.1:0").await?;
        let rest_addr = rest_listener.local_addr()?;
        let s = state.clone();
        let ws_task = tokio::spawn(async move {
            while let Ok((tcp, _)) = ws.accept().await {
                if s.down.load(Ordering::SeqCst) {
                    drop(tcp);
                    continue;
                }
                tokio::spawn(serve_client(tcp, s.clone()));
            }
        });
        let s = state.clone();
        let app = Router::new().fallback(move |uri: Uri| {
            let s = s.clone();
            async move { answer(&s, &uri) }
        });
        let rest_task = tokio::spawn(async move {
            let _ = axum::serve(rest_listener, app).await;
        });
        Ok(MockVenue {
            ws_addr,
            rest_addr,
            state,
            tasks: vec![ws_task, rest_task],
        })
    }

    /// `ws://` base URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}", self.ws_addr)
    }

    /// `http://` base URL.
    pub fn rest_url(&self) -> String {
        format!("http://{}", self.rest_addr)
    }

    /// Sends `text` to every connected client; how many got it.
    pub fn send(&self, text: &str) -> usize {
        let mut clients = lock(&self.state.clients);
        clients.retain(|c| c.try_send(Command::Text(text.to_owned())).is_ok());
        clients.len()
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        let mut clients = lock(&self.state.clients);
        clients.retain(|c| !c.is_closed());
        clients.len()
    }

    /// Connections accepted since start.
    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Text messages written to clients' sockets since start.
    pub fn sent(&self) -> usize {
        self.state.sent.load(Ordering::SeqCst)
    }

    /// Waits up to `within` for `n` clients; whether they came.
    pub async fn wait_clients(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while tokio::time::Instant::now() < deadline {
            if self.clients() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// Cuts every connection (no close frame: as a network failure does).
    pub fn drop_clients(&self) {
        for c in lock(&self.state.clients).drain(..) {
            let _ = c.try_send(Command::Drop);
        }
    }

    /// Keeps every connection open but sends and answers nothing on it.
    pub fn silence_clients(&self) {
        for c in lock(&self.state.clients).drain(..) {
            let _ = c.try_send(Command::Silence);
        }
    }

    /// Sends a WebSocket ping to every connected client (as Binance does every 20 s).
    pub fn ping_clients(&self) {
        let mut clients = lock(&self.state.clients);
        clients.retain(|c| c.try_send(Command::Ping).is_ok());
    }

    /// Every connection now open stops reading (so its client's pings go
    /// unanswered) but still sends what the test gives it: a half-dead path.
    pub fn deafen_clients(&self) {
        let mut clients = lock(&self.state.clients);
        clients.retain(|c| c.try_send(Command::Deafen).is_ok());
    }

    /// Pongs clients sent back to the mock's pings since start.
    pub fn pongs(&self) -> usize {
        self.state.pongs.load(Ordering::SeqCst)
    }

    /// Down: connections are cut and refused, REST answers 503. Up: normal again.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
        if down {
            self.drop_clients();
        }
    }

    /// The next `n` REST requests answer 429 with `Retry-After: secs`.
    pub fn throttle(&self, n: usize, secs: u64) {
        *lock(&self.state.throttle) = Throttle {
            left: n,
            retry_after_secs: secs,
            body: None,
        };
    }

    /// The next `n` REST requests answer 200 with `body`: how Kraken says it
    /// is throttling (`{"error":["EAPI:Rate limit exceeded"]}`).
    pub fn throttle_with_body(&self, n: usize, body: &str) {
        *lock(&self.state.throttle) = Throttle {
            left: n,
            retry_after_secs: 0,
            body: Some(body.to_owned()),
        };
    }

    /// The text messages clients sent (their subscriptions), in order.
    pub fn received(&self) -> Vec<String> {
        lock(&self.state.received).clone()
    }

    /// The request paths (with queries) WebSocket clients connected to.
    pub fn ws_paths(&self) -> Vec<String> {
        lock(&self.state.paths).clone()
    }

    /// The REST requests (path and query), in order, throttled ones included.
    pub fn rest_requests(&self) -> Vec<String> {
        lock(&self.state.rest_seen).clone()
    }
}

fn answer(state: &State, uri: &Uri) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    lock(&state.rest_seen).push(target.clone());
    if state.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    if let Some(throttled) = throttled(state) {
        return throttled;
    }
    let (status, body) = (state.rest)(&target);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// The throttled answer, while throttling lasts.
fn throttled(state: &State) -> Option<Response> {
    let mut throttle = lock(&state.throttle);
    if throttle.left == 0 {
        return None;
    }
    throttle.left -= 1;
    if let Some(body) = &throttle.body {
        let json = [(header::CONTENT_TYPE, "application/json")];
        return Some((StatusCode::OK, json, body.clone()).into_response());
    }
    let after = throttle.retry_after_secs.to_string();
    Some(
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, after)],
            r#"{"code":-1003,"msg":"Too many requests"}"#,
        )
            .into_response(),
    )
}

#[allow(clippy::result_large_err)] // the handshake callback's signature is tungstenite's
async fn serve_client(tcp: tokio::net::TcpStream, state: Arc<State>) {
    let paths = state.clone();
    let record_path = move |req: &Request, resp: WsResponse| {
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(String::new, |p| p.as_str().to_owned());
        lock(&paths.paths).push(target);
        Ok(resp)
    };
    let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, record_path).await else {
        return;
    };
    state.accepted.fetch_add(1, Ordering::SeqCst);
    // Bounded: a test that floods a client faster than it reads loses the excess (send says how many got it).
    let (tx, commands) = mpsc::channel(65_536);
    lock(&state.clients).push(tx);
    talk(ws, commands, &state).await;
}

/// Carries out the test's commands on one connection and records what the client sends.
async fn talk(
    ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    mut commands: mpsc::Receiver<Command>,
    state: &State,
) {
    let (mut sink, mut stream) = ws.split();
    // Deaf: read nothing, so the client's pings are never answered.
    let mut deaf = false;
    loop {
        tokio::select! {
            command = commands.recv() => {
                let frame = match command {
                    Some(Command::Text(text)) => Message::text(text),
                    Some(Command::Ping) => Message::Ping(Vec::new().into()),
                    Some(Command::Deafen) => {
                        deaf = true;
                        continue;
                    }
                    Some(Command::Silence) => {
                        // Hold the socket open, read nothing (so no pongs), send nothing.
                        let _keep = (sink, stream);
                        tokio::time::sleep(Duration::from_secs(3_600)).await;
                        return;
                    }
                    Some(Command::Drop) | None => return,
                };
                let text = frame.is_text();
                if sink.send(frame).await.is_err() {
                    return;
                }
                if text {
                    state.sent.fetch_add(1, Ordering::SeqCst);
                }
            }
            message = stream.next(), if !deaf => match message {
                Some(Ok(Message::Text(text))) => lock(&state.received).push(text.as_str().to_owned()),
                Some(Ok(Message::Pong(_))) => {
                    state.pongs.fetch_add(1, Ordering::SeqCst);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            },
        }
    }
}
