//! What the server refuses, over real sockets on 127.0.0.1: clients outside
//! the environment's range, upstream answers too large for the client or
//! malformed, and more forwards in flight than one client may have.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::net::UdpSocket;

use common::{
    QUERY_TIMEOUT, UPSTREAM_ANSWER, ask_tcp, ask_udp, client_socket, fake_upstream,
    fake_upstream_with, ips, loopback, shop, start, start_with, upstream_answer_with,
};
use corral_dns::{DnsConfig, MAX_FORWARDS_PER_CLIENT};

/// A range that does not hold the loopback addresses the tests query from.
fn elsewhere() -> corral_types::Ipv4Cidr {
    "10.0.0.0/8".parse().unwrap()
}

fn config(upstream: Vec<SocketAddr>, clients: Vec<corral_types::Ipv4Cidr>) -> DnsConfig {
    DnsConfig {
        upstream,
        upstream_timeout: QUERY_TIMEOUT,
        clients,
        ..DnsConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_outside_the_range_are_refused_and_never_forwarded() {
    let (upstream, count) = fake_upstream().await;
    let server = start_with(shop().snapshot, config(vec![upstream], vec![elsewhere()])).await;
    let socket = client_socket().await;
    // External names (recursion) and the environment's own names alike.
    for name in ["www.example.com", "web", "web.shop", "shop-web-1", "nope"] {
        let msg = ask_udp(&socket, server.addr, name).await.unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(msg.answers.is_empty(), "{name}");
    }
    let msg = ask_tcp(server.addr, "www.example.org").await;
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    let msg = ask_tcp(server.addr, "web.shop").await;
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    assert_eq!(count.load(Ordering::SeqCst), 0, "upstream never asked");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_inside_the_range_are_answered_and_forwarded() {
    let (upstream, count) = fake_upstream().await;
    let clients = vec![elsewhere(), loopback()];
    let server = start_with(shop().snapshot, config(vec![upstream], clients)).await;
    let socket = client_socket().await;
    let msg = ask_udp(&socket, server.addr, "www.example.com")
        .await
        .unwrap();
    assert_eq!(ips(&msg), [IpAddr::V4(UPSTREAM_ANSWER)]);
    let msg = ask_udp(&socket, server.addr, "web.shop").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert_eq!(ips(&msg).len(), 2);
    assert_eq!(count.load(Ordering::SeqCst), 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_ranges_answers_nobody() {
    let (upstream, count) = fake_upstream().await;
    let server = start_with(shop().snapshot, config(vec![upstream], vec![])).await;
    let socket = client_socket().await;
    let msg = ask_udp(&socket, server.addr, "example.com").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    assert_eq!(count.load(Ordering::SeqCst), 0);
    server.stop().await;
}

/// 40 A records: about 700 bytes, more than 512.
fn large_answer(query: &[u8]) -> Option<Vec<u8>> {
    Some(upstream_answer_with(query, 40))
}

/// A query for `name` with id `id`, with an OPT record of `edns` bytes.
fn query_with(name: &str, id: u16, edns: Option<u16>) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.id = id;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg.to_vec().unwrap()
}

/// Sends `query` and returns the raw datagram answering it.
async fn exchange_raw(socket: &UdpSocket, server: SocketAddr, query: &[u8]) -> Vec<u8> {
    socket.send_to(query, server).await.unwrap();
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(QUERY_TIMEOUT * 2, socket.recv_from(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    buf.truncate(len);
    buf
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_answer_larger_than_the_clients_udp_size_arrives_truncated() {
    let (upstream, _) = fake_upstream_with(large_answer).await;
    let server = start(shop().snapshot, vec![upstream], QUERY_TIMEOUT).await;
    let socket = client_socket().await;
    // Without EDNS: 512 bytes at most, TC set, no records.
    let raw = exchange_raw(&socket, server.addr, &query_with("big.example", 11, None)).await;
    assert!(raw.len() <= 512, "{} bytes", raw.len());
    let msg = Message::from_vec(&raw).unwrap();
    assert_eq!(msg.metadata.id, 11);
    assert!(msg.metadata.truncation, "TC set");
    assert!(msg.answers.is_empty());
    // With EDNS 1232 the same answer fits and arrives whole.
    let raw = exchange_raw(
        &socket,
        server.addr,
        &query_with("big.example", 12, Some(1232)),
    )
    .await;
    let msg = Message::from_vec(&raw).unwrap();
    assert!(!msg.metadata.truncation);
    assert_eq!(msg.answers.len(), 40);
    // The client's retry over TCP gets every record.
    let msg = ask_tcp(server.addr, "big.example").await;
    assert_eq!(msg.answers.len(), 40);
    server.stop().await;
}

/// The right id and the QR bit, then bytes that are no DNS message.
fn malformed_answer(query: &[u8]) -> Option<Vec<u8>> {
    let mut answer = query.get(..2)?.to_vec();
    answer.extend_from_slice(&[0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    answer.extend_from_slice(&[0xFF; 30]);
    Some(answer)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_upstream_answer_is_never_relayed() {
    let (upstream, count) = fake_upstream_with(malformed_answer).await;
    let server = start(shop().snapshot, vec![upstream], Duration::from_millis(300)).await;
    let socket = client_socket().await;
    let query = query_with("bad.example", 21, None);
    let raw = exchange_raw(&socket, server.addr, &query).await;
    let msg = Message::from_vec(&raw).expect("the client gets a well-formed answer");
    assert_eq!(msg.metadata.id, 21);
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    // Over TCP too.
    let msg = ask_tcp(server.addr, "bad.example").await;
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(count.load(Ordering::SeqCst), 2, "upstream was asked");
    server.stop().await;
}

/// Never answers: every forwarded query stays in flight until the timeout.
fn hold(_query: &[u8]) -> Option<Vec<u8>> {
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_in_flight_are_capped_per_source_address() {
    let (upstream, count) = fake_upstream_with(hold).await;
    // Long enough that no held query times out during the test.
    let config = DnsConfig {
        udp_workers: 1,
        upstream_timeout: Duration::from_secs(30),
        ..config(vec![upstream], vec![loopback()])
    };
    let server = start_with(shop().snapshot, config).await;
    let socket = client_socket().await;
    let total = MAX_FORWARDS_PER_CLIENT + 1;
    for id in 0..total {
        let query = query_with(&format!("q{id}.example"), id as u16, None);
        socket.send_to(&query, server.addr).await.unwrap();
    }
    // Exactly one query is beyond the cap and gets SERVFAIL at once; the
    // others are held by the upstream.
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(10), socket.recv_from(&mut buf))
        .await
        .expect("the query beyond the cap is answered at once")
        .unwrap();
    let msg = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::ServFail);
    let deadline = Instant::now() + Duration::from_secs(10);
    while count.load(Ordering::SeqCst) < MAX_FORWARDS_PER_CLIENT {
        assert!(
            Instant::now() < deadline,
            "held queries never reached upstream"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let quiet = tokio::time::timeout(Duration::from_millis(300), socket.recv_from(&mut buf)).await;
    assert!(quiet.is_err(), "no second query refused");
    assert_eq!(count.load(Ordering::SeqCst), MAX_FORWARDS_PER_CLIENT);
    // Another source address has its own slots.
    let other = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2), 0))
        .await
        .unwrap();
    other
        .send_to(&query_with("other.example", 9, None), server.addr)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while count.load(Ordering::SeqCst) <= MAX_FORWARDS_PER_CLIENT {
        assert!(
            Instant::now() < deadline,
            "the other client was not forwarded"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Internal names are still answered to the capped client.
    let msg = ask_udp(&socket, server.addr, "web").await.unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    server.stop().await;
}
