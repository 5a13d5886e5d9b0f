//! The serving loop's limits against real sockets on 127.0.0.1: a slow
//! handler is cut but a long streaming body is not, a half-open connection
//! is dropped, connections beyond the cap are closed at once, and shutdown
//! lets a request in flight finish. Limits are set short in each test;
//! closing is only asserted within a generous bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::routing::get;
use corral_serve::{Limits, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const BOUND: Duration = Duration::from_secs(10);

fn app() -> Router {
    Router::new()
        .route("/fast", get(|| async { "fast" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "slow"
            }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
        )
        .route(
            "/stream",
            get(|| async {
                // Ten chunks 100 ms apart: a second, longer than the request timeout.
                let chunks = ticks(10, Duration::from_millis(100));
                Body::from_stream(chunks)
            }),
        )
}

/// A stream of `n` chunks `tick\n`, one every `every`.
fn ticks(
    n: usize,
    every: Duration,
) -> impl tokio_stream::Stream<Item = Result<&'static str, Infallible>> {
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        for _ in 0..n {
            tokio::time::sleep(every).await;
            if tx.send(Ok("tick\n")).await.is_err() {
                return;
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn start(limits: Limits) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app(), limits, async move {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

/// Sends a GET and reads the whole answer (the connection is closed after it).
async fn get_raw(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(BOUND, s.read_to_string(&mut out))
        .await
        .expect("answered in time")
        .unwrap();
    out
}

/// True when the server closes `s` (EOF or reset) within [`BOUND`].
async fn closed_eventually(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(BOUND, read_to_end).await.is_ok()
}

#[tokio::test]
async fn a_slow_handler_gets_503_but_a_streaming_body_longer_than_the_timeout_is_not_cut() {
    let server = start(Limits {
        request_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let slow = get_raw(server.addr, "/slow").await;
    assert!(slow.starts_with("HTTP/1.1 503"), "{slow}");
    assert!(slow.contains("\"error\""), "{slow}");
    let stream = get_raw(server.addr, "/stream").await;
    assert!(stream.starts_with("HTTP/1.1 200"), "{stream}");
    assert_eq!(stream.matches("tick").count(), 10, "{stream}");
    let peer = get_raw(server.addr, "/peer").await;
    assert!(peer.ends_with("127.0.0.1"), "{peer}");
    server.task.abort();
}

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_is_dropped() {
    let server = start(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(closed_eventually(&mut half).await);
    assert!(get_raw(server.addr, "/fast").await.ends_with("fast"));
    server.task.abort();
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once_and_a_freed_slot_is_reused() {
    let server = start(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        // A full request on a keep-alive connection: accepted and counted.
        s.write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(s);
    }
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    assert!(
        closed_eventually(&mut third).await,
        "beyond the cap: closed"
    );
    held.pop();
    let mut served = false;
    for _ in 0..100 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        let _ = s
            .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut out = String::new();
        let _ = tokio::time::timeout(BOUND, s.read_to_string(&mut out)).await;
        if out.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a freed slot takes a new connection");
    server.task.abort();
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish_then_returns() {
    let mut server = start(Limits::default()).await;
    let addr = server.addr;
    let streaming = tokio::spawn(async move { get_raw(addr, "/stream").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = server.stop.take().unwrap().send(());
    let body = streaming.await.unwrap();
    assert_eq!(body.matches("tick").count(), 10, "{body}");
    tokio::time::timeout(BOUND, &mut server.task)
        .await
        .expect("serve returns after shutdown")
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");
}
