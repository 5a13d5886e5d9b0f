//! What a client cannot do to a balancer: pass for another address with
//! forwarding headers, hold more connections than a listener's cap, or keep
//! a request or a splice open by going silent. Real sockets on 127.0.0.1;
//! the limits are set short in each test, and closing is only asserted to
//! happen within a generous bound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use corral_lb::{LbHandle, LbLimits, LbRuntime};
use corral_netview::EnvSnapshot;
use corral_types::{LbConfig, LbProtocol};
use http_body_util::Empty;
use hyper::Request;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::watch;

/// How long a test waits for the balancer to close a connection.
const CLOSE_BOUND: Duration = Duration::from_secs(10);

async fn start_limited(
    config: LbConfig,
    rx: watch::Receiver<Arc<EnvSnapshot>>,
    limits: LbLimits,
) -> LbHandle {
    LbRuntime::start_with_limits(
        "shop-lb",
        config,
        "shop",
        BTreeMap::new(),
        rx,
        LOCALHOST,
        limits,
    )
    .await
    .expect("the load balancer starts")
}

/// A balancer on a free port in front of one HTTP backend `web`.
async fn http_lb(trust: bool, limits: LbLimits) -> (LbHandle, u16, HttpBackend, View) {
    let bp = free_port();
    let backend = HttpBackend::start("web", SocketAddr::new(LOCALHOST, bp)).await;
    let (view, rx) = View::new(&[instance("shop-web", 1, LOCALHOST)]);
    let lp = free_port();
    let config = LbConfig {
        port_rules: vec![rule(lp, LbProtocol::Http, "web", bp)],
        trust_forwarded_for: trust,
        ..Default::default()
    };
    (start_limited(config, rx, limits).await, lp, backend, view)
}

/// Reads until the balancer closes the connection (EOF or reset); false
/// if it is still open after [`CLOSE_BOUND`].
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
    tokio::time::timeout(CLOSE_BOUND, read_to_end).await.is_ok()
}

/// A GET with the headers a client might forge.
async fn spoofed_get(port: u16) -> Answer {
    let mut c = connect(port).await;
    c.ready().await.unwrap();
    let req = Request::builder()
        .uri("/")
        .header("host", "x")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-real-ip", "203.0.113.9")
        .header("forwarded", "for=203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-port", "443")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = c.send_request(req).await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        backend: String::new(),
        body: String::new(),
        headers: resp.headers().clone(),
    }
}

#[tokio::test]
async fn forwarding_headers_from_a_client_are_replaced_by_its_address_unless_trusted() {
    let (lb, lp, _web, _view) = http_lb(false, LbLimits::default()).await;
    let a = spoofed_get(lp).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["x-seen-xff"], "127.0.0.1");
    assert_eq!(a.headers["x-seen-real-ip"], "127.0.0.1");
    assert_eq!(a.headers["x-seen-proto"], "http");
    assert_eq!(a.headers["x-seen-port"], lp.to_string().as_str());
    assert_eq!(a.headers["x-seen-forwarded"], "");
    // Without forged headers, the balancer's own are there too.
    let plain = get_once(lp, "x", "/").await;
    assert_eq!(plain.headers["x-seen-xff"], "127.0.0.1");
    assert_eq!(plain.headers["x-seen-port"], lp.to_string().as_str());
    lb.stop().await;

    let (lb, lp, _web, _view) = http_lb(true, LbLimits::default()).await;
    let a = spoofed_get(lp).await;
    assert_eq!(a.headers["x-seen-xff"], "203.0.113.9, 127.0.0.1");
    assert_eq!(a.headers["x-seen-real-ip"], "203.0.113.9");
    assert_eq!(a.headers["x-seen-proto"], "https");
    assert_eq!(a.headers["x-seen-port"], "443");
    assert_eq!(a.headers["x-seen-forwarded"], "for=203.0.113.9");
    lb.stop().await;
}

#[tokio::test]
async fn a_listener_closes_connections_beyond_its_cap_and_takes_new_ones_when_one_ends() {
    let limits = LbLimits {
        max_connections_per_listener: 2,
        ..LbLimits::default()
    };
    let (lb, lp, _web, _view) = http_lb(false, limits).await;
    let mut first = connect(lp).await;
    let mut second = connect(lp).await;
    assert_eq!(get(&mut first, "x", "/", None).await.status, 200);
    assert_eq!(get(&mut second, "x", "/", None).await.status, 200);
    let mut third = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
    assert!(
        closed_eventually(&mut third).await,
        "a connection beyond the cap is closed"
    );
    drop(first);
    // Once the first connection's slot is free, a new client is served.
    let mut served = false;
    for _ in 0..100 {
        let mut s = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
        if s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .is_ok()
        {
            let mut line = String::new();
            let _ = BufReader::new(&mut s).read_line(&mut line).await;
            if line.starts_with("HTTP/1.1 200") {
                served = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "a new connection is served once one ended");
    assert_eq!(get(&mut second, "x", "/", None).await.status, 200);
    lb.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_sending_its_headers_or_its_body_is_dropped() {
    let limits = LbLimits {
        header_read_timeout: Duration::from_millis(300),
        body_idle_timeout: Duration::from_millis(300),
        ..LbLimits::default()
    };
    let (lb, lp, _web, _view) = http_lb(false, limits).await;
    let mut headers = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
    headers
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut body = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
    body.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        .await
        .unwrap();
    assert!(
        closed_eventually(&mut headers).await,
        "stalled headers are dropped"
    );
    assert!(
        closed_eventually(&mut body).await,
        "a stalled body is dropped"
    );
    // The balancer still serves others.
    assert_eq!(get_once(lp, "x", "/").await.status, 200);
    lb.stop().await;
}

#[tokio::test]
async fn a_tcp_splice_with_no_bytes_either_way_is_closed_and_a_busy_one_is_not() {
    let bp = free_port();
    let _backend = tcp_backend("db", SocketAddr::new(LOCALHOST, bp)).await;
    let (_view, rx) = View::new(&[instance("shop-db", 1, LOCALHOST)]);
    let lp = free_port();
    let config = LbConfig {
        port_rules: vec![rule(lp, LbProtocol::Tcp, "db", bp)],
        ..Default::default()
    };
    let limits = LbLimits {
        tcp_idle_timeout: Duration::from_secs(1),
        ..LbLimits::default()
    };
    let lb = start_limited(config, rx, limits).await;

    let mut busy = BufReader::new(TcpStream::connect((LOCALHOST, lp)).await.unwrap());
    let mut idle = BufReader::new(TcpStream::connect((LOCALHOST, lp)).await.unwrap());
    let mut line = String::new();
    busy.read_line(&mut line).await.unwrap();
    assert_eq!(line, "db\n");
    line.clear();
    idle.read_line(&mut line).await.unwrap();
    assert_eq!(line, "db\n");
    // The busy splice echoes every 100 ms for 2.5 times the idle timeout.
    for _ in 0..25 {
        busy.get_mut().write_all(b"ping\n").await.unwrap();
        line.clear();
        busy.read_line(&mut line).await.unwrap();
        assert_eq!(line, "ping\n", "a busy splice stays open");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        closed_eventually(idle.get_mut()).await,
        "an idle splice is closed"
    );
    lb.stop().await;
}
