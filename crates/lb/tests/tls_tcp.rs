//! TCP splicing, TLS termination with SNI and a default certificate, and
//! the errors of a bad config.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use common::*;
use corral_lb::{LbRuntime, TlsMaterial};
use corral_types::{LbConfig, LbProtocol, PortRule};
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

fn config(rules: Vec<PortRule>) -> LbConfig {
    LbConfig {
        port_rules: rules,
        ..Default::default()
    }
}

/// Reads the backend's greeting line, then checks the echo.
async fn greeting<S: AsyncRead + AsyncWrite + Unpin>(s: S) -> String {
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line).await.unwrap();
    r.get_mut().write_all(b"ping\n").await.unwrap();
    let mut echo = String::new();
    r.read_line(&mut echo).await.unwrap();
    assert_eq!(echo, "ping\n");
    line.trim().to_string()
}

#[tokio::test]
async fn tcp_connections_are_spliced_round_robin_skipping_unreachable_backends() {
    let bp = free_port_on(3);
    let _a = tcp_backend("t1", SocketAddr::new(ip(1), bp)).await;
    let _b = tcp_backend("t2", SocketAddr::new(ip(2), bp)).await;
    // Instance 3 has nothing listening.
    let (_view, rx) = View::new(&[
        instance("shop-db", 1, ip(1)),
        instance("shop-db", 2, ip(2)),
        instance("shop-db", 3, ip(3)),
    ]);
    let lp = free_port();
    let lb = start(
        config(vec![rule(lp, LbProtocol::Tcp, "db", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    let mut seen = BTreeMap::new();
    for _ in 0..12 {
        let s = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
        *seen.entry(greeting(s).await).or_insert(0) += 1;
    }
    println!("tcp connections per backend: {seen:?}");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen.values().all(|n| *n >= 4), "{seen:?}");
    lb.stop().await;
}

struct Pki {
    ca: rcgen::Certificate,
    certs: BTreeMap<String, TlsMaterial>,
}

fn pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut certs = BTreeMap::new();
    for (name, sans) in [
        ("site-a", vec!["a.example.com".to_string()]),
        ("site-b", vec!["*.b.example.com".to_string()]),
    ] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(sans)
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        certs.insert(
            name.to_string(),
            TlsMaterial {
                cert_chain_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            },
        );
    }
    Pki { ca, certs }
}

fn connector(pki: &Pki, sni: bool) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut c = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    c.enable_sni = sni;
    TlsConnector::from(Arc::new(c))
}

/// A GET over TLS to `name` (verified against the test CA): the backend and
/// the X-Forwarded-Proto it saw.
async fn https_get(conn: &TlsConnector, port: u16, name: &str) -> (String, String) {
    let tcp = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    let server = ServerName::try_from(name.to_string()).unwrap();
    let tls = conn.connect(server, tcp).await.expect("handshake verifies");
    let (mut sender, c) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(c);
    let req = Request::builder()
        .uri("/")
        .header("host", name)
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let backend = resp.headers()["x-backend"].to_str().unwrap().to_string();
    let proto = resp.headers()["x-seen-proto"].to_str().unwrap().to_string();
    let _ = resp.into_body().collect().await.unwrap();
    (backend, proto)
}

#[tokio::test]
async fn https_terminates_tls_with_the_certificate_for_the_sni_name_or_the_default() {
    let pki = pki();
    let bp = free_port_on(2);
    let _a = HttpBackend::start("a", SocketAddr::new(ip(1), bp)).await;
    let _b = HttpBackend::start("b", SocketAddr::new(ip(2), bp)).await;
    let (_view, rx) = View::new(&[instance("shop-a", 1, ip(1)), instance("shop-b", 1, ip(2))]);
    let lp = free_port();
    let tp = free_port();
    let mut c = config(vec![
        PortRule {
            hostname: "*.b.example.com".into(),
            ..rule(lp, LbProtocol::Https, "b", bp)
        },
        rule(lp, LbProtocol::Https, "a", bp),
        rule(tp, LbProtocol::Tls, "a", bp),
    ]);
    c.certificates = vec!["site-a".into(), "site-b".into()];
    c.default_certificate = "site-a".into();
    let lb = start(c, pki.certs.clone(), rx).await;
    let with_sni = connector(&pki, true);
    assert_eq!(
        https_get(&with_sni, lp, "x.b.example.com").await,
        ("b".to_string(), "https".to_string())
    );
    assert_eq!(https_get(&with_sni, lp, "a.example.com").await.0, "a");
    // No SNI: the default certificate (site-a), which verifies for a.example.com.
    let without_sni = connector(&pki, false);
    assert_eq!(https_get(&without_sni, lp, "a.example.com").await.0, "a");
    // And it would not verify for a name only site-b covers.
    let tcp = TcpStream::connect((LOCALHOST, lp)).await.unwrap();
    let name = ServerName::try_from("x.b.example.com").unwrap();
    assert!(without_sni.connect(name, tcp).await.is_err());
    // A tls port terminates and splices: HTTP passes through as bytes.
    let (backend, proto) = https_get(&with_sni, tp, "a.example.com").await;
    assert_eq!(backend, "a");
    assert_eq!(proto, "", "a tls port adds no headers");
    lb.stop().await;
}

#[tokio::test]
async fn a_bad_config_fails_naming_the_field_port_or_certificate() {
    let (_view, rx) = View::new(&[]);
    let start_err = |c: LbConfig, certs: BTreeMap<String, TlsMaterial>| {
        let rx = rx.clone();
        async move {
            LbRuntime::start("shop-lb", c, "shop", certs, rx, LOCALHOST)
                .await
                .err()
                .expect("start fails")
                .to_string()
        }
    };
    let lp = free_port();
    let bad = config(vec![PortRule {
        hostname: "a.example.com".into(),
        ..rule(lp, LbProtocol::Tcp, "db", 5432)
    }]);
    let e = start_err(bad, BTreeMap::new()).await;
    assert!(e.contains("lb_config.port_rules[0].protocol"), "{e}");

    let taken = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = taken.local_addr().unwrap().port();
    let e = start_err(
        config(vec![rule(port, LbProtocol::Http, "web", 80)]),
        BTreeMap::new(),
    )
    .await;
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");

    let mut https = config(vec![rule(lp, LbProtocol::Https, "web", 80)]);
    https.default_certificate = "site".into();
    let e = start_err(https.clone(), BTreeMap::new()).await;
    assert!(e.contains("certificate \"site\" was not given"), "{e}");
    let garbage = TlsMaterial {
        cert_chain_pem: "not pem".into(),
        key_pem: "not pem".into(),
    };
    let e = start_err(https, [("site".to_string(), garbage)].into()).await;
    assert!(e.contains("certificate \"site\""), "{e}");
}

#[tokio::test]
async fn an_update_binds_new_ports_and_closes_old_ones() {
    let bp = free_port_on(1);
    let _w = HttpBackend::start("w", SocketAddr::new(ip(1), bp)).await;
    let (_view, rx) = View::new(&[instance("shop-web", 1, ip(1))]);
    let (p1, p2) = (free_port(), free_port());
    let lb = start(
        config(vec![rule(p1, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
        rx,
    )
    .await;
    assert_eq!(get_once(p1, "x", "/").await.backend, "w");
    lb.update(
        config(vec![rule(p2, LbProtocol::Http, "web", bp)]),
        BTreeMap::new(),
    )
    .await
    .unwrap();
    assert_eq!(get_once(p2, "x", "/").await.backend, "w");
    assert_eq!(
        lb.local_addrs().await.keys().copied().collect::<Vec<_>>(),
        [p2]
    );
    eventually(|| async { TcpStream::connect((LOCALHOST, p1)).await.is_err() }).await;
    lb.stop().await;
}
