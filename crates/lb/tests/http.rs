//! HTTP load balancing against real sockets on 127.0.0.x: routing, spread,
//! stickiness, live updates, draining, retries, and no request lost while
//! backends are replaced.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use common::*;
use corral_types::{LbConfig, LbProtocol, PortRule, Stickiness};

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

fn at(n: u8, port: u16) -> SocketAddr {
    SocketAddr::new(ip(n), port)
}

fn http_config(rules: Vec<PortRule>) -> LbConfig {
    LbConfig {
        port_rules: rules,
        ..Default::default()
    }
}

#[tokio::test]
async fn http_routes_by_host_and_path_with_priorities_and_a_default_backend() {
    let bp = free_port_on(4);
    let _web = HttpBackend::start("web", at(1, bp)).await;
    let _api = HttpBackend::start("api", at(2, bp)).await;
    let _admin = HttpBackend::start("admin", at(3, bp)).await;
    let _wild = HttpBackend::start("wild", at(4, bp)).await;
    let (_view, rx) = View::new(&[
        instance("shop-web", 1, ip(1)),
        instance("shop-api", 1, ip(2)),
        instance("shop-admin", 1, ip(3)),
        instance("shop-wild", 1, ip(4)),
    ]);
    let lp = free_port();
    let host_rule = |host: &str, path: &str, priority: u32, target: &str| PortRule {
        hostname: host.into(),
        path: path.into(),
        priority,
        ..rule(lp, LbProtocol::Http, target, bp)
    };
    let config = http_config(vec![
        host_rule("", "", 0, "web"),
        host_rule("api.example.com", "", 0, "api"),
        host_rule("", "/admin", 0, "admin"),
        host_rule("*.example.com", "", 0, "wild"),
        // Priority 1 loses to the wildcard rule of priority 0.
        host_rule("admin.example.com", "", 1, "admin"),
    ]);
    let lb = start(config, BTreeMap::new(), rx).await;
    let mut c = connect(lp).await;
    let cases = [
        ("api.example.com:8080", "/v1", "api"),
        ("API.Example.com", "/", "api"),
        ("www.example.com", "/", "wild"),
        ("admin.example.com", "/", "wild"),
        ("other.org", "/admin/users", "admin"),
        ("other.org", "/", "web"),
        ("example.com", "/shop", "web"),
    ];
    for (host, path, want) in cases {
        let a = get(&mut c, host, path, None).await;
        assert_eq!(a.status, 200, "{host}{path}");
        assert_eq!(a.backend, want, "{host}{path}");
        assert_eq!(a.body, format!("{want} {path}"));
    }
    let a = get(&mut c, "x", "/", None).await;
    assert_eq!(a.headers["x-seen-xff"], "127.0.0.1");
    assert_eq!(a.headers["x-seen-proto"], "http");
    lb.stop().await;
}

#[tokio::test]
async fn requests_spread_evenly_over_every_serving_backend() {
    let bp = free_port_on(3);
    let backends = [
        HttpBackend::start("w1", at(1, bp)).await,
        HttpBackend::start("w2", at(2, bp)).await,
        HttpBackend::start("w3", at(3, bp)).await,
    ];
    let (_view, rx) = View::new(&[
        instance("shop-web", 1, ip(1)),
        instance("shop-web", 2, ip(2)),
        instance("shop-web", 3, ip(3)),
    ]);
    let lp = free_port();
    let lb = start(
        http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let mut c = connect(lp).await;
    for _ in 0..300 {
        assert_eq!(get(&mut c, "x", "/", None).await.status, 200);
    }
    let counts: Vec<usize> = backends
        .iter()
        .map(|b| b.hits.load(Ordering::SeqCst))
        .collect();
    println!("requests per backend: {counts:?}");
    assert!(counts.iter().all(|n| (80..=120).contains(n)), "{counts:?}");
    lb.stop().await;
}

#[tokio::test]
async fn a_sticky_cookie_keeps_a_client_on_its_backend_while_it_serves() {
    let bp = free_port_on(3);
    let _b = [
        HttpBackend::start("w1", at(1, bp)).await,
        HttpBackend::start("w2", at(2, bp)).await,
        HttpBackend::start("w3", at(3, bp)).await,
    ];
    let mut instances = vec![
        instance("shop-web", 1, ip(1)),
        instance("shop-web", 2, ip(2)),
        instance("shop-web", 3, ip(3)),
    ];
    let (view, rx) = View::new(&instances);
    let lp = free_port();
    let mut config = http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]);
    config.stickiness = Some(Stickiness {
        cookie: "SRV".into(),
        domain: String::new(),
    });
    let lb = start(config, BTreeMap::new(), rx).await;
    let mut c = connect(lp).await;
    let first = get(&mut c, "x", "/", None).await;
    let set = first.headers["set-cookie"].to_str().unwrap().to_string();
    assert!(set.starts_with("SRV=") && set.contains("Path=/"), "{set}");
    let cookie = set.split(';').next().unwrap().to_string();
    for _ in 0..20 {
        let a = get(&mut c, "x", "/", Some(&format!("a=b; {cookie}"))).await;
        assert_eq!(a.backend, first.backend);
        assert!(!a.headers.contains_key("set-cookie"));
    }
    // Without the cookie, round robin goes on.
    let others: Vec<String> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(get(&mut c, "x", "/", None).await.backend);
        }
        v
    };
    assert!(others.iter().any(|b| *b != first.backend), "{others:?}");
    // Its backend stops serving: the client moves and gets a new cookie.
    let idx = ["w1", "w2", "w3"]
        .iter()
        .position(|n| *n == first.backend)
        .unwrap();
    instances[idx].spec.removing = true;
    view.publish(&instances);
    let want = first.backend.clone();
    eventually(|| {
        let cookie = cookie.clone();
        let want = want.clone();
        async move {
            let mut c = connect(lp).await;
            get(&mut c, "x", "/", Some(&cookie)).await.backend != want
        }
    })
    .await;
    let moved = get(&mut c, "x", "/", Some(&cookie)).await;
    assert!(
        moved.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("SRV=")
    );
    lb.stop().await;
}

#[tokio::test]
async fn a_snapshot_change_reroutes_without_restarting() {
    let bp = free_port_on(2);
    let _b1 = HttpBackend::start("w1", at(1, bp)).await;
    let _b2 = HttpBackend::start("w2", at(2, bp)).await;
    let (view, rx) = View::new(&[instance("shop-web", 1, ip(1))]);
    let lp = free_port();
    let lb = start(
        http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let mut c = connect(lp).await;
    assert_eq!(get(&mut c, "x", "/", None).await.backend, "w1");
    view.publish(&[instance("shop-web", 2, ip(2))]);
    eventually(|| async { get_once(lp, "x", "/").await.backend == "w2" }).await;
    for _ in 0..20 {
        assert_eq!(get(&mut c, "x", "/", None).await.backend, "w2");
    }
    lb.stop().await;
}

#[tokio::test]
async fn a_removing_instance_gets_no_new_requests_and_its_request_in_flight_completes() {
    let bp = free_port_on(2);
    let backends = [
        HttpBackend::start("w1", at(1, bp)).await,
        HttpBackend::start("w2", at(2, bp)).await,
    ];
    let mut instances = vec![
        instance("shop-web", 1, ip(1)),
        instance("shop-web", 2, ip(2)),
    ];
    let (view, rx) = View::new(&instances);
    let lp = free_port();
    let lb = start(
        http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let slow = tokio::spawn(async move { get_once(lp, "x", "/slow").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    let busy = backends
        .iter()
        .position(|b| b.hits.load(Ordering::SeqCst) == 1)
        .expect("the slow request reached a backend");
    instances[busy].spec.removing = true;
    view.publish(&instances);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut c = connect(lp).await;
    for _ in 0..50 {
        let a = get(&mut c, "x", "/", None).await;
        assert_eq!(a.status, 200);
        assert_ne!(a.backend, backends[busy].name);
    }
    assert_eq!(backends[busy].hits.load(Ordering::SeqCst), 1);
    let done = slow.await.unwrap();
    assert_eq!(done.status, 200);
    assert_eq!(done.backend, backends[busy].name);
    lb.stop().await;
}

#[tokio::test]
async fn no_serving_backend_answers_503_and_an_unreachable_one_is_skipped() {
    let bp = free_port_on(3);
    let _w2 = HttpBackend::start("w2", at(2, bp)).await;
    let (view, rx) = View::new(&[]);
    let lp = free_port();
    let lb = start(
        http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let a = get_once(lp, "x", "/").await;
    assert_eq!(a.status, 503);
    assert!(a.body.contains("no backend"), "{}", a.body);
    // Instances 1 and 3 have nothing listening: every request still reaches 2.
    view.publish(&[
        instance("shop-web", 1, ip(1)),
        instance("shop-web", 2, ip(2)),
        instance("shop-web", 3, ip(3)),
    ]);
    eventually(|| async { get_once(lp, "x", "/").await.status == 200 }).await;
    let mut c = connect(lp).await;
    for _ in 0..30 {
        let a = get(&mut c, "x", "/", None).await;
        assert_eq!((a.status, a.backend.as_str()), (200, "w2"));
    }
    lb.stop().await;
}

#[tokio::test]
async fn no_request_is_lost_while_backends_are_replaced() {
    let bp = free_port_on(5);
    let _b: Vec<HttpBackend> = futures_join(bp).await;
    let generation = |g: usize| -> Vec<corral_types::Instance> {
        // Two of four serving, rotating; one removing; sometimes a dead one (.5).
        let a = (g % 4) as u8 + 1;
        let b = ((g + 1) % 4) as u8 + 1;
        let gone = ((g + 3) % 4) as u8 + 1;
        let mut v = vec![
            instance("shop-web", u32::from(a), ip(a)),
            instance("shop-web", u32::from(b), ip(b)),
        ];
        let mut removing = instance("shop-web", u32::from(gone), ip(gone));
        removing.spec.removing = true;
        v.push(removing);
        if g.is_multiple_of(3) {
            v.push(instance("shop-web", 5, ip(5)));
        }
        v
    };
    let (view, rx) = View::new(&generation(0));
    let lp = free_port();
    let lb = start(
        http_config(vec![rule(lp, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let view = Arc::new(view);
    let swapper = {
        let view = view.clone();
        tokio::spawn(async move {
            for g in 1..=200 {
                view.publish(&generation(g));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(tokio::spawn(async move {
            let mut c = connect(lp).await;
            let mut ok = 0;
            for _ in 0..500 {
                if get(&mut c, "x", "/", None).await.status == 200 {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut total = 0;
    for c in clients {
        total += c.await.unwrap();
    }
    swapper.abort();
    println!("{total} of 2000 requests answered 200 while backends were replaced");
    assert_eq!(total, 2000);
    lb.stop().await;
}

async fn futures_join(port: u16) -> Vec<HttpBackend> {
    let mut v = Vec::new();
    for i in 1..=4u8 {
        v.push(HttpBackend::start(&format!("w{i}"), at(i, port)).await);
    }
    v
}
