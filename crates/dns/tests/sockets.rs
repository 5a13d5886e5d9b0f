//! The server over real sockets on 127.0.0.1: internal answers, forwarding
//! to a fake upstream, failures, and answers while the view churns.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use tokio::net::UdpSocket;
use tokio::sync::watch;

use common::testkit::{Condition, Env};
use common::{
    QUERY_TIMEOUT, UPSTREAM_ANSWER, ask_tcp, ask_udp, client_socket, fake_upstream, ips, shop,
    start,
};
use corral_netview::EnvSnapshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_names_are_answered_over_udp_and_tcp() {
    let server = start(shop().snapshot, vec![], QUERY_TIMEOUT).await;
    let socket = client_socket().await;
    for name in ["web", "web.shop", "web.shop.default.corral.internal"] {
        let msg = ask_udp(&socket, server.addr, name).await.unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "{name}");
        let mut got = ips(&msg);
        got.sort();
        assert_eq!(
            got,
            [
                "10.42.0.1".parse::<IpAddr>().unwrap(),
                "10.42.0.2".parse().unwrap()
            ]
        );
    }
    let msg = ask_tcp(server.addr, "shop-web-2").await;
    assert_eq!(ips(&msg), ["10.42.0.2".parse::<IpAddr>().unwrap()]);
    // Without upstream an external name is refused at once.
    let msg = ask_udp(&socket, server.addr, "example.com").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_queries_reach_the_upstream_over_udp_and_tcp() {
    let (upstream, count) = fake_upstream().await;
    let server = start(shop().snapshot, vec![upstream], QUERY_TIMEOUT).await;
    let socket = client_socket().await;
    let msg = ask_udp(&socket, server.addr, "www.example.com")
        .await
        .unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ips(&msg), [IpAddr::V4(UPSTREAM_ANSWER)]);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    let msg = ask_tcp(server.addr, "www.example.org").await;
    assert_eq!(ips(&msg), [IpAddr::V4(UPSTREAM_ANSWER)]);
    assert_eq!(count.load(Ordering::SeqCst), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_internal_names_get_nxdomain_at_once_without_asking_upstream() {
    let (upstream, count) = fake_upstream().await;
    let server = start(shop().snapshot, vec![upstream], QUERY_TIMEOUT).await;
    let socket = client_socket().await;
    for name in ["nope", "nope.shop", "nope.web", "x.default.corral.internal"] {
        let started = Instant::now();
        let msg = ask_udp(&socket, server.addr, name).await.unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{name}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{name}: {:?}",
            started.elapsed()
        );
    }
    assert_eq!(count.load(Ordering::SeqCst), 0, "upstream never asked");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_upstream_gives_servfail_after_its_timeout() {
    // Bound but never read: queries to it go unanswered.
    let silent = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let upstream = silent.local_addr().unwrap();
    let server = start(shop().snapshot, vec![upstream], Duration::from_millis(200)).await;
    let socket = client_socket().await;
    let started = Instant::now();
    let msg = ask_udp(&socket, server.addr, "example.com").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Internal names are unaffected.
    let msg = ask_udp(&socket, server.addr, "web").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    drop(silent);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_snapshot_is_answered_soon_after_it_is_published() {
    let mut env = shop();
    let server = start(env.snapshot.clone(), vec![], QUERY_TIMEOUT).await;
    let socket = client_socket().await;
    let msg = ask_udp(&socket, server.addr, "api").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
    let api = env.service("shop", "api", |_| {});
    env.instance(&api, 1, "10.42.0.7", Condition::Serving);
    server.view.send(Arc::new(env.bump())).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let msg = ask_udp(&socket, server.addr, "api").await.unwrap();
        if msg.metadata.response_code == ResponseCode::NoError {
            assert_eq!(ips(&msg), ["10.42.0.7".parse::<IpAddr>().unwrap()]);
            break;
        }
        assert!(Instant::now() < deadline, "new service never answered");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
}

/// Publishes snapshots where `web`'s instances come and go (a new one
/// serving before the oldest goes, others turning unhealthy) until `stop`.
async fn churn(mut env: Env, view: watch::Sender<Arc<EnvSnapshot>>, stop: Arc<AtomicBool>) -> u32 {
    let web = "shop-web";
    let mut next = 3u32;
    let mut published = 0;
    while !stop.load(Ordering::Relaxed) && published < 20_000 {
        let ip = format!("10.42.{}.{}", next / 200 % 200, next % 200 + 1);
        env.instance(web, next, &ip, Condition::Serving);
        env.instance(
            web,
            next + 1,
            &format!("10.43.0.{}", next % 200 + 1),
            Condition::Unhealthy,
        );
        view.send(Arc::new(env.bump())).unwrap();
        // Both older serving instances go; the new one stays serving.
        env.remove_instance(&format!("{web}-{}", next - 2));
        env.remove_instance(&format!("{web}-{}", next - 1));
        view.send(Arc::new(env.bump())).unwrap();
        published += 2;
        next += 2;
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    published
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookups_never_fail_while_instances_come_and_go() {
    let env = shop();
    let server = start(env.snapshot.clone(), vec![], QUERY_TIMEOUT).await;
    let stop = Arc::new(AtomicBool::new(false));
    let churner = tokio::spawn(churn(env, server.view.clone(), Arc::clone(&stop)));
    let socket = client_socket().await;
    let mut failures = Vec::new();
    let started = Instant::now();
    const QUERIES: usize = 5_000;
    for i in 0..QUERIES {
        let name = if i % 2 == 0 {
            "web"
        } else {
            "web.shop.default.corral.internal"
        };
        match ask_udp(&socket, server.addr, name).await {
            Ok(msg)
                if msg.metadata.response_code == ResponseCode::NoError && !ips(&msg).is_empty() => {
            }
            Ok(msg) => failures.push(format!(
                "{name}: {:?} {:?}",
                msg.metadata.response_code,
                ips(&msg)
            )),
            Err(err) => failures.push(err),
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let published = churner.await.unwrap();
    eprintln!(
        "{QUERIES} queries in {elapsed:?} across {published} snapshots, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        published >= 20,
        "the view changed while resolving ({published} snapshots)"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_when_the_shutdown_sender_is_dropped() {
    let server = start(shop().snapshot, vec![], QUERY_TIMEOUT).await;
    drop(server.shutdown);
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
