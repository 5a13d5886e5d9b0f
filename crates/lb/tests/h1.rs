//! The HTTP/1 proxy path byte by byte, from a raw client: bodies both ways
//! (Content-Length and chunked, large ones streamed), keep-alive and
//! HTTP/1.0, pipelining, `Expect: 100-continue`, stale pooled connections,
//! draining on stop, and bad input answered 400 (or 431) and closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use corral_lb::LbHandle;
use corral_types::{LbConfig, LbProtocol};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// A balancer in front of one HTTP backend `web`.
async fn lb() -> (LbHandle, u16, HttpBackend, View) {
    let bp = free_port();
    let backend = HttpBackend::start("web", SocketAddr::new(LOCALHOST, bp)).await;
    let (view, rx) = View::new(&[instance("shop-web", 1, LOCALHOST)]);
    let lp = free_port();
    let config = LbConfig {
        port_rules: vec![rule(lp, LbProtocol::Http, "web", bp)],
        ..Default::default()
    };
    (start(config, BTreeMap::new(), rx).await, lp, backend, view)
}

struct Resp {
    status: u16,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Reader = BufReader<TcpStream>;

async fn line<R: AsyncBufRead + Unpin>(r: &mut R) -> String {
    let mut l = String::new();
    r.read_line(&mut l).await.unwrap();
    l.trim_end().to_string()
}

/// Reads one response (1xx included) to a request that was not HEAD.
async fn response(r: &mut Reader) -> Resp {
    let status_line = line(r).await;
    assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
    let status = status_line[9..12].parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let l = line(r).await;
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if (100..200).contains(&status) {
        return resp;
    }
    if let Some(n) = resp.header("content-length") {
        resp.body = vec![0; n.parse().unwrap()];
        r.read_exact(&mut resp.body).await.unwrap();
    } else if resp.header("transfer-encoding") == Some("chunked") {
        loop {
            let size = usize::from_str_radix(&line(r).await, 16).unwrap();
            let mut chunk = vec![0; size + 2];
            r.read_exact(&mut chunk).await.unwrap();
            if size == 0 {
                break;
            }
            resp.body.extend_from_slice(&chunk[..size]);
        }
    } else {
        r.read_to_end(&mut resp.body).await.unwrap();
    }
    resp
}

async fn open(port: u16) -> Reader {
    BufReader::new(TcpStream::connect((LOCALHOST, port)).await.unwrap())
}

async fn send(r: &mut Reader, bytes: &[u8]) {
    r.get_mut().write_all(bytes).await.unwrap();
}

/// True when the balancer closed the connection (within 5 s).
async fn closed(r: &mut Reader) -> bool {
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), r.read_to_end(&mut rest)).await;
    matches!(read, Ok(Ok(_)) | Ok(Err(_))) && rest.is_empty()
}

#[tokio::test]
async fn bodies_go_both_ways_with_content_length_and_chunked() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(
        &mut c,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    )
    .await;
    let a = response(&mut c).await;
    assert_eq!((a.status, &a.body[..]), (200, &b"hello"[..]));
    // Chunked in (split across writes), chunked out, same connection.
    send(
        &mut c,
        b"POST /echo-chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    send(&mut c, b"\r\n4;x=y\r\ndefg\r\n0\r\n\r\n").await;
    let a = response(&mut c).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("x-seen-te"), Some("chunked"));
    assert_eq!(a.header("transfer-encoding"), Some("chunked"));
    assert_eq!(a.body, b"abcdefg");
    lb.stop().await;
}

#[tokio::test]
async fn a_large_body_is_streamed_both_ways_intact() {
    let (lb, lp, _web, _view) = lb().await;
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let mut c = open(lp).await;
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (mut rd, mut wr) = c.get_mut().split();
    let write = async {
        wr.write_all(head.as_bytes()).await.unwrap();
        wr.write_all(&body).await.unwrap();
    };
    let mut got = Vec::new();
    let read = async {
        let mut r = BufReader::new(&mut rd);
        let mut l = String::new();
        loop {
            l.clear();
            r.read_line(&mut l).await.unwrap();
            if l == "\r\n" {
                break;
            }
        }
        got.resize(body.len(), 0);
        r.read_exact(&mut got).await.unwrap();
    };
    tokio::join!(write, read);
    assert!(got == body, "the echoed body differs");
    lb.stop().await;
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order_on_one_connection() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(
        &mut c,
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    assert_eq!(response(&mut c).await.body, b"web /a");
    assert_eq!(response(&mut c).await.body, b"hi");
    assert_eq!(response(&mut c).await.body, b"web /b");
    lb.stop().await;
}

#[tokio::test]
async fn http10_closes_unless_kept_alive_and_connection_close_closes() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(&mut c, b"GET /a HTTP/1.0\r\nHost: x\r\n\r\n").await;
    let a = response(&mut c).await;
    assert_eq!((a.status, a.header("connection")), (200, Some("close")));
    assert!(
        closed(&mut c).await,
        "HTTP/1.0 without keep-alive is closed"
    );

    let mut c = open(lp).await;
    for _ in 0..2 {
        send(
            &mut c,
            b"GET /a HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        )
        .await;
        let a = response(&mut c).await;
        assert_eq!(a.header("connection"), Some("keep-alive"));
        assert_eq!(a.body, b"web /a");
    }
    // A chunked answer reaches an HTTP/1.0 client as its data, then the close.
    send(
        &mut c,
        b"POST /echo-chunked HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 4\r\n\r\nabcd",
    )
    .await;
    let a = response(&mut c).await;
    assert_eq!(
        (a.header("transfer-encoding"), &a.body[..]),
        (None, &b"abcd"[..])
    );

    let mut c = open(lp).await;
    send(
        &mut c,
        b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let a = response(&mut c).await;
    assert_eq!(a.header("connection"), Some("close"));
    assert!(closed(&mut c).await, "Connection: close is honoured");
    lb.stop().await;
}

#[tokio::test]
async fn expect_100_continue_is_answered_before_the_body_is_sent() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(
        &mut c,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    )
    .await;
    let cont = tokio::time::timeout(Duration::from_secs(5), response(&mut c))
        .await
        .expect("100 Continue before the body");
    assert_eq!(cont.status, 100);
    send(&mut c, b"abc").await;
    let a = response(&mut c).await;
    assert_eq!((a.status, &a.body[..]), (200, &b"abc"[..]));
    lb.stop().await;
}

#[tokio::test]
async fn a_head_request_gets_the_length_without_a_body() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(
        &mut c,
        b"HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\nGET /z HTTP/1.1\r\nHost: x\r\n\r\n",
    )
    .await;
    let head_line = line(&mut c).await;
    assert!(head_line.starts_with("HTTP/1.1 200"), "{head_line}");
    let mut length = None;
    loop {
        let l = line(&mut c).await.to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length: ") {
            length = Some(v.to_string());
        }
    }
    assert_eq!(length.as_deref(), Some("8"));
    assert_eq!(
        response(&mut c).await.body,
        b"web /z",
        "no body after the HEAD answer"
    );
    lb.stop().await;
}

/// Sends `bytes` on a new connection: the status, and whether the
/// balancer closed the connection after it.
async fn refused(port: u16, bytes: &[u8]) -> (u16, bool) {
    let mut c = open(port).await;
    let _ = c.get_mut().write_all(bytes).await;
    let a = response(&mut c).await;
    (a.status, closed(&mut c).await)
}

#[tokio::test]
async fn bad_input_gets_a_400_and_the_connection_closed() {
    let (lb, lp, web, _view) = lb().await;
    let cases: [&[u8]; 6] = [
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    ];
    for bad in cases {
        assert_eq!(
            refused(lp, bad).await,
            (400, true),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    // A chunk size that goes bad after the head was sent on.
    let mut c = open(lp).await;
    send(
        &mut c,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    send(&mut c, b"3\r\nabc\r\nq\r\n").await;
    assert_eq!(response(&mut c).await.status, 400);
    assert!(closed(&mut c).await);
    // An oversized head: 431.
    let mut big = b"GET / HTTP/1.1\r\nHost: x\r\nx-big: ".to_vec();
    big.resize(70 * 1024, b'a');
    assert_eq!(refused(lp, &big).await, (431, true));
    assert_eq!(
        web.hits.load(Ordering::SeqCst),
        1,
        "only the late bad chunk reached the backend"
    );
    // The balancer still serves.
    assert_eq!(get_once(lp, "x", "/").await.status, 200);
    lb.stop().await;
}

/// A backend that answers the first request of each connection (200,
/// kept alive by its headers) and then closes that connection, so every
/// connection the balancer pools from it goes stale. Counts connections.
async fn one_shot_backend(addr: SocketAddr) -> Arc<AtomicUsize> {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                let mut length = 0;
                loop {
                    let l = line(&mut r).await.to_ascii_lowercase();
                    if l.is_empty() {
                        break;
                    }
                    if let Some(v) = l.strip_prefix("content-length: ") {
                        length = v.parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                r.read_exact(&mut body).await.unwrap();
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                r.get_mut().write_all(answer).await.unwrap();
            });
        }
    });
    accepted
}

#[tokio::test]
async fn a_pooled_connection_the_backend_closed_is_replaced_without_an_error() {
    let bp = free_port();
    let accepted = one_shot_backend(SocketAddr::new(LOCALHOST, bp)).await;
    let (_view, rx) = View::new(&[instance("shop-web", 1, LOCALHOST)]);
    let lp = free_port();
    let config = LbConfig {
        port_rules: vec![rule(lp, LbProtocol::Http, "web", bp)],
        ..Default::default()
    };
    let lb = start(config, BTreeMap::new(), rx).await;
    let mut c = open(lp).await;
    // Sent again on a new connection when the pooled one gives no answer.
    for _ in 0..5 {
        send(&mut c, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(response(&mut c).await.body, b"ok");
    }
    // Never sent twice: a pooled connection seen closed is skipped.
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        send(
            &mut c,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc",
        )
        .await;
        assert_eq!(response(&mut c).await.status, 200);
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 10);
    lb.stop().await;
}

#[tokio::test]
async fn stop_lets_the_request_in_flight_finish_then_closes_its_connection() {
    let (lb, lp, _web, _view) = lb().await;
    let mut c = open(lp).await;
    send(&mut c, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stop = tokio::spawn(lb.stop());
    let a = response(&mut c).await;
    assert_eq!((a.status, &a.body[..]), (200, &b"web /slow"[..]));
    assert_eq!(a.header("connection"), Some("close"));
    assert!(closed(&mut c).await, "closed after the request in flight");
    stop.await.unwrap();
    assert!(
        TcpStream::connect((LOCALHOST, lp)).await.is_err(),
        "no longer listening"
    );
}

/// A backend that answers `413` with `Connection: close` as soon as it has
/// a request head, and closes without reading the body.
async fn rejecting_backend(addr: SocketAddr) {
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut r = BufReader::new(s);
                while !line(&mut r).await.is_empty() {}
                let answer = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n";
                r.get_mut().write_all(answer).await.unwrap();
            });
        }
    });
}

#[tokio::test]
async fn an_answer_sent_before_the_request_body_ended_is_relayed_and_the_connection_closed() {
    let bp = free_port();
    rejecting_backend(SocketAddr::new(LOCALHOST, bp)).await;
    let (_view, rx) = View::new(&[instance("shop-web", 1, LOCALHOST)]);
    let lp = free_port();
    let config = LbConfig {
        port_rules: vec![rule(lp, LbProtocol::Http, "web", bp)],
        ..Default::default()
    };
    let lb = start(config, BTreeMap::new(), rx).await;
    let mut c = open(lp).await;
    let size = 8 * 1024 * 1024;
    let head = format!("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n");
    send(&mut c, head.as_bytes()).await;
    let (mut rd, mut wr) = c.get_mut().split();
    let upload = async {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..size / chunk.len() {
            if wr.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    let answer = async {
        let mut r = BufReader::new(&mut rd);
        let status = line(&mut r).await;
        let mut rest = Vec::new();
        let _ = r.read_to_end(&mut rest).await;
        (status, String::from_utf8_lossy(&rest).into_owned())
    };
    let ((), (status, rest)) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(upload, answer)
    })
    .await
    .expect("answered and closed");
    assert!(status.starts_with("HTTP/1.1 413"), "{status}");
    assert!(
        rest.contains("connection: close") && rest.ends_with("too big\n"),
        "{rest}"
    );
    lb.stop().await;
}
