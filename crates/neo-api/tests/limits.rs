//! The HTTP edge's limits over real sockets: slow headers and slow bodies are
//! cut, a declared oversized body is refused before it is sent, one address
//! cannot hold every connection, a 429 closes its connection, and the server
//! keeps answering others throughout.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Timeouts are wall-clock behaviour: measuring them is the point.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};
use neo_api::server::{HttpLimits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_BODY: usize = 1024;

async fn server(limits: HttpLimits) -> SocketAddr {
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/echo", post(|body: String| async move { body }))
        .route("/flood", get(|| async { StatusCode::TOO_MANY_REQUESTS }));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        serve(listener, app, &limits, MAX_BODY, std::future::pending())
            .await
            .unwrap();
    });
    addr
}

fn quick() -> HttpLimits {
    HttpLimits {
        header_timeout_secs: 1,
        request_timeout_secs: 2,
        max_connections: 64,
        max_connections_per_ip: 4,
    }
}

/// Reads until the peer closes (or `within` passes): what was answered, and
/// whether the connection was closed.
async fn read_all(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

async fn health_answers_fast(addr: SocketAddr) {
    let asked = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_all(&mut s, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn a_slow_header_is_cut_and_others_are_served_meanwhile() {
    let addr = server(quick()).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    health_answers_fast(addr).await;
    let started = Instant::now();
    let (_, closed) = read_all(&mut slow, Duration::from_secs(5)).await;
    assert!(closed, "a header never finished kept its connection");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // An idle keep-alive connection goes the same way.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_all(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200") && closed, "{answer}");
}

#[tokio::test]
async fn a_slow_body_is_cut_with_408() {
    let addr = server(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    let (answer, closed) = read_all(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout") && closed, "{answer}");
}

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_it_is_sent() {
    let addr = server(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_all(&mut s, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large") && closed, "{answer}");
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let addr = server(quick()).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let mut fifth = TcpStream::connect(addr).await.unwrap();
    let _ = fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let (answer, closed) = read_all(&mut fifth, Duration::from_secs(2)).await;
    assert!(
        closed && answer.is_empty(),
        "a fifth connection was served: {answer}"
    );
    drop(held);
    tokio::time::sleep(Duration::from_millis(100)).await;
    health_answers_fast(addr).await;
}

#[tokio::test]
async fn a_429_closes_its_connection() {
    let addr = server(quick()).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /flood HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (answer, closed) = read_all(&mut s, Duration::from_millis(900)).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(closed, "the connection stayed open after a 429");
}

#[test]
fn limits_list_every_problem() {
    let bad = HttpLimits {
        header_timeout_secs: 0,
        request_timeout_secs: 99_999,
        max_connections: 0,
        max_connections_per_ip: 5,
    };
    assert_eq!(bad.problems().len(), 4, "{:?}", bad.problems());
    assert!(HttpLimits::default().problems().is_empty());
}
