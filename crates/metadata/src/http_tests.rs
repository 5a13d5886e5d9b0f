//! The server over a real loopback listener; the caller is told apart by
//! the source address its client binds to (127.0.0.2 is `shop-web-1`;
//! 127.0.0.3 is no container of the environment).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use corral_netview::EnvSnapshot;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::fixture::{WEB1_IP, snapshot};
use crate::{MetadataConfig, MetadataError, serve_with};

/// Every test ends well within this, or fails.
const BOUND: Duration = Duration::from_secs(20);

struct Running {
    addr: SocketAddr,
    base: String,
    view: watch::Sender<Arc<EnvSnapshot>>,
    stop: watch::Sender<bool>,
    server: JoinHandle<Result<(), MetadataError>>,
}

/// The address of no container of the fixture.
const STRANGER_IP: &str = "127.0.0.3";

async fn start() -> Running {
    start_with(MetadataConfig::default()).await
}

async fn start_with(config: MetadataConfig) -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let (view, view_rx) = watch::channel(Arc::new(snapshot(1)));
    let (stop, stop_rx) = watch::channel(false);
    let server = tokio::spawn(serve_with(listener, view_rx, stop_rx, config));
    Running {
        addr,
        base: format!("http://{addr}"),
        view,
        stop,
        server,
    }
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(BOUND)
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: &str) -> (StatusCode, String) {
    let resp = client.get(url).send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

/// A snapshot whose content differs from the fixture's.
fn changed_snapshot(revision: u64) -> Arc<EnvSnapshot> {
    let mut snap = snapshot(revision);
    snap.instances.get_mut("shop-web-2").unwrap().status.ip = "10.42.0.99".into();
    Arc::new(snap)
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("test took too long")
}

#[tokio::test]
async fn self_paths_answer_the_container_at_the_source_address() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let url = format!("{}/2015-12-19/self/container/create_index", r.base);
        assert_eq!(get(&c, &url).await, (StatusCode::OK, "1".to_string()));
        let url = format!("{}/latest/self/container/primary_ip", r.base);
        assert_eq!(get(&c, &url).await, (StatusCode::OK, WEB1_IP.to_string()));
        let url = format!("{}/latest/self/stack/name", r.base);
        assert_eq!(get(&c, &url).await, (StatusCode::OK, "shop".to_string()));
    })
    .await;
}

#[tokio::test]
async fn a_caller_that_is_no_container_of_the_environment_gets_403_on_every_path() {
    bounded(async {
        let r = start().await;
        let c = client_from(STRANGER_IP);
        for path in [
            "/",
            "/latest",
            "/latest/self/container",
            "/latest/services/web/scale",
            "/2015-07-25/containers",
            "/latest/version?wait=true&value=1&maxWait=60",
            "/latest/nothing",
        ] {
            let (status, body) = get(&c, &format!("{}{path}", r.base)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
            assert!(body.starts_with("forbidden"), "{path}: {body}");
            assert!(body.contains(STRANGER_IP), "{path}: {body}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_container_of_the_environment_gets_the_whole_tree() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let (status, body) = get(&c, &format!("{}/latest/services/web/scale", r.base)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "2"));
        let (status, body) = get(&c, &format!("{}/", r.base)).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("latest"), "{body}");
    })
    .await;
}

/// A TCP connection to the server from `ip`.
async fn connect_from(ip: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(ip.parse().unwrap(), 0))
        .unwrap();
    socket.connect(server).await.unwrap()
}

/// Reads until the server closes the connection (end of stream or reset).
async fn closed_by_server(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn a_client_slow_to_send_its_headers_is_disconnected() {
    bounded(async {
        let r = start_with(MetadataConfig {
            header_read_timeout: Duration::from_millis(200),
            ..MetadataConfig::default()
        })
        .await;
        // Half a request, then nothing.
        let mut slow = connect_from(WEB1_IP, r.addr).await;
        slow.write_all(b"GET /latest/version HTTP/1.1\r\nHost: metadata\r\n")
            .await
            .unwrap();
        // Nothing at all.
        let mut silent = connect_from(WEB1_IP, r.addr).await;
        // `bounded` fails the test if either stays open.
        closed_by_server(&mut slow).await;
        closed_by_server(&mut silent).await;
        // The server still answers others.
        let (status, _) = get(&client_from(WEB1_IP), &format!("{}/latest/version", r.base)).await;
        assert_eq!(status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    bounded(async {
        let r = start_with(MetadataConfig {
            max_connections: 1,
            ..MetadataConfig::default()
        })
        .await;
        let holder = connect_from(WEB1_IP, r.addr).await;
        let url = format!("{}/latest/version", r.base);
        let waiting = tokio::spawn(async move { get(&client_from(WEB1_IP), &url).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "served beyond the cap");
        drop(holder);
        assert_eq!(waiting.await.unwrap(), (StatusCode::OK, "1".to_string()));
    })
    .await;
}

#[tokio::test]
async fn accept_json_gets_the_subtree_as_json() {
    bounded(async {
        let r = start().await;
        let resp = client_from(WEB1_IP)
            .get(format!("{}/latest/self/container", r.base))
            .header("Accept", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["name"], "shop-web-1");
        assert_eq!(v["create_index"], 1);
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_and_versions_are_404_and_bad_max_wait_a_400() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let (status, body) = get(&c, &format!("{}/latest/nothing", r.base)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(body.starts_with("not found"), "{body}");
        let (status, _) = get(&c, &format!("{}/1999-01-01/self", r.base)).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let url = format!("{}/latest/version?wait=true&value=1&maxWait=soon", r.base);
        let (status, body) = get(&c, &url).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("maxWait"), "{body}");
        let resp = c.post(format!("{}/latest", r.base)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

#[tokio::test]
async fn a_long_poll_answers_when_a_changed_snapshot_is_published() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let url = format!(
            "{}/latest/services/web/containers/1/primary_ip?wait=true&value=1&maxWait=60",
            r.base
        );
        let poll = tokio::spawn(async move { get(&c, &url).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!poll.is_finished(), "answered before any change");
        // Other requests are answered while the poll waits.
        let now = get(&client_from(WEB1_IP), &format!("{}/latest/version", r.base)).await;
        assert_eq!(now, (StatusCode::OK, "1".to_string()));
        // Only the revision changes: the content is the same, so no wake-up.
        r.view.send_replace(Arc::new(snapshot(2)));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!poll.is_finished(), "woke up for a change of nothing");
        let published = Instant::now();
        r.view.send_replace(changed_snapshot(3));
        let (status, body) = poll.await.unwrap();
        assert_eq!((status, body.as_str()), (StatusCode::OK, "10.42.0.99"));
        assert!(published.elapsed() < Duration::from_secs(5));
        let (_, version) = get(&client_from(WEB1_IP), &format!("{}/latest/version", r.base)).await;
        assert_eq!(version, "3");
    })
    .await;
}

#[tokio::test]
async fn a_long_poll_without_change_answers_after_max_wait() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let started = Instant::now();
        let url = format!("{}/latest/version?wait=true&value=1&maxWait=1", r.base);
        assert_eq!(get(&c, &url).await, (StatusCode::OK, "1".to_string()));
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(950), "{waited:?}");
        assert!(waited < Duration::from_secs(5), "{waited:?}");
    })
    .await;
}

#[tokio::test]
async fn a_long_poll_with_an_old_version_answers_at_once() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let started = Instant::now();
        let url = format!("{}/latest/self/container/name?wait=true&value=0", r.base);
        let (status, body) = get(&c, &url).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "shop-web-1"));
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_open_long_polls_and_the_server() {
    bounded(async {
        let r = start().await;
        let c = client_from(WEB1_IP);
        let url = format!("{}/latest/version?wait=true&value=1&maxWait=120", r.base);
        let poll = tokio::spawn(async move { get(&c, &url).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stopped = Instant::now();
        r.stop.send_replace(true);
        let (status, _) = poll.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        r.server.await.unwrap().unwrap();
        assert!(stopped.elapsed() < Duration::from_secs(5));
    })
    .await;
}
