#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RData, RecordType};

use super::*;
use crate::testkit::{Condition, Env};

const CLIENT: &str = "10.42.0.100";

fn client() -> Client {
    Client {
        ip: CLIENT.parse().unwrap(),
        in_range: true,
    }
}

fn query(name: &str, qtype: RecordType, edns: bool) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.id = 4242;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    if edns {
        let mut e = Edns::new();
        e.set_max_payload(4096);
        msg.set_edns(e);
    }
    msg.to_vec().unwrap()
}

/// An index with service `web` in stack `shop` with `n` serving instances.
fn index_with(n: u32) -> Index {
    let mut env = Env::new();
    let web = env.service("shop", "web", |_| {});
    for i in 1..=n {
        env.instance(
            &web,
            i,
            &format!("10.42.{}.{}", i / 250, i % 250 + 1),
            Condition::Serving,
        );
    }
    Index::build(&env.snapshot)
}

fn run(index: &Index, packet: &[u8], transport: Transport, upstream: bool) -> (Outcome, Vec<u8>) {
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    let outcome = handle(
        index,
        packet,
        client(),
        transport,
        upstream,
        &mut scratch,
        &mut out,
    );
    (outcome, out)
}

fn answer_ips(msg: &Message) -> Vec<IpAddr> {
    msg.answers
        .iter()
        .map(|r| match &r.data {
            RData::A(a) => IpAddr::V4(a.0),
            RData::AAAA(a) => IpAddr::V6(a.0),
            other => panic!("unexpected record {other:?}"),
        })
        .collect()
}

#[test]
fn an_internal_answer_echoes_the_query_and_carries_a_one_second_ttl() {
    let index = index_with(1);
    let (outcome, out) = run(
        &index,
        &query("Web.Shop.", RecordType::A, false),
        Transport::Udp,
        true,
    );
    assert_eq!(outcome, Outcome::Reply);
    let msg = Message::from_vec(&out).unwrap();
    assert_eq!(msg.metadata.id, 4242);
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.metadata.authoritative && msg.metadata.recursion_desired);
    assert!(msg.metadata.recursion_available && !msg.metadata.truncation);
    assert_eq!(msg.queries[0].name().to_ascii(), "Web.Shop.");
    assert_eq!(answer_ips(&msg), [IpAddr::V4(Ipv4Addr::new(10, 42, 0, 2))]);
    assert_eq!(msg.answers[0].ttl, TTL_SECS);
    assert_eq!(TTL_SECS, 1);
    assert!(msg.edns.is_none());
}

#[test]
fn answers_come_in_random_order() {
    let index = index_with(8);
    let packet = query("web.shop", RecordType::A, false);
    let mut firsts: HashMap<IpAddr, usize> = HashMap::new();
    let mut orders = BTreeSet::new();
    let mut scratch = Scratch::new();
    let mut out = Vec::new();
    for _ in 0..400 {
        handle(
            &index,
            &packet,
            client(),
            Transport::Udp,
            true,
            &mut scratch,
            &mut out,
        );
        let ips = answer_ips(&Message::from_vec(&out).unwrap());
        assert_eq!(ips.len(), 8, "every serving address in every answer");
        *firsts.entry(ips[0]).or_default() += 1;
        orders.insert(ips);
    }
    assert_eq!(
        firsts.len(),
        8,
        "each address comes first sometimes: {firsts:?}"
    );
    assert!(orders.len() > 100, "orders vary: {}", orders.len());
}

#[test]
fn an_internal_name_has_no_aaaa_or_other_records_but_exists() {
    let index = index_with(2);
    for qtype in [
        RecordType::AAAA,
        RecordType::MX,
        RecordType::TXT,
        RecordType::SRV,
    ] {
        let (_, out) = run(
            &index,
            &query("web.shop", qtype, false),
            Transport::Udp,
            true,
        );
        let msg = Message::from_vec(&out).unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::NoError, "{qtype}");
        assert!(msg.answers.is_empty(), "{qtype}");
    }
}

#[test]
fn unknown_internal_names_get_nxdomain_without_soa_and_are_never_forwarded() {
    let index = index_with(1);
    for name in ["nope", "nope.shop", "x.corral.internal"] {
        for qtype in [RecordType::A, RecordType::AAAA] {
            let (outcome, out) = run(&index, &query(name, qtype, false), Transport::Udp, true);
            assert_eq!(outcome, Outcome::Reply);
            let msg = Message::from_vec(&out).unwrap();
            assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain, "{name}");
            assert!(msg.answers.is_empty() && msg.authorities.is_empty());
        }
    }
}

#[test]
fn external_names_are_forwarded_or_refused_without_upstream() {
    let index = index_with(1);
    let packet = query("example.com", RecordType::A, false);
    assert_eq!(
        run(&index, &packet, Transport::Udp, true).0,
        Outcome::Forward
    );
    let (outcome, out) = run(&index, &packet, Transport::Udp, false);
    assert_eq!(outcome, Outcome::Reply);
    let msg = Message::from_vec(&out).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::Refused);
    assert_eq!(msg.queries.len(), 1);
}

#[test]
fn a_udp_answer_fits_the_clients_payload_without_truncation() {
    let index = index_with(300);
    let (_, out) = run(
        &index,
        &query("web.shop", RecordType::A, false),
        Transport::Udp,
        true,
    );
    assert!(out.len() <= 512, "{}", out.len());
    let msg = Message::from_vec(&out).unwrap();
    assert!(!msg.metadata.truncation);
    assert!(msg.answers.len() >= 25, "{}", msg.answers.len());

    let (_, out) = run(
        &index,
        &query("web.shop", RecordType::A, true),
        Transport::Udp,
        true,
    );
    assert!(out.len() <= 1232, "{}", out.len());
    let msg = Message::from_vec(&out).unwrap();
    assert!(msg.answers.len() >= 70, "{}", msg.answers.len());
    assert_eq!(msg.edns.as_ref().map(|e| e.max_payload()), Some(1232));

    let (_, out) = run(
        &index,
        &query("web.shop", RecordType::A, false),
        Transport::Tcp,
        true,
    );
    assert_eq!(Message::from_vec(&out).unwrap().answers.len(), 300);
}

#[test]
fn malformed_messages_are_dropped_or_refused_as_formerr() {
    let index = index_with(1);
    assert_eq!(
        run(&index, &[1, 2, 3], Transport::Udp, true).0,
        Outcome::Drop
    );
    // A response is never answered (that could loop between servers).
    let mut response = query("web.shop", RecordType::A, false);
    response[2] |= 0x80;
    assert_eq!(
        run(&index, &response, Transport::Udp, true).0,
        Outcome::Drop
    );
    // A question cut short.
    let packet = query("web.shop", RecordType::A, false);
    let (outcome, out) = run(&index, &packet[..packet.len() - 3], Transport::Udp, true);
    assert_eq!(outcome, Outcome::Reply);
    let msg = Message::from_vec(&out).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::FormErr);
    // Two questions.
    let mut msg = Message::query();
    msg.add_query(Query::query(Name::from_ascii("a").unwrap(), RecordType::A));
    msg.add_query(Query::query(Name::from_ascii("b").unwrap(), RecordType::A));
    let (_, out) = run(&index, &msg.to_vec().unwrap(), Transport::Udp, true);
    let msg = Message::from_vec(&out).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::FormErr);
}

#[test]
fn a_name_with_unusual_bytes_matches_nothing_but_keeps_its_shape() {
    let index = index_with(1);
    let name = Name::from_labels(vec![b"w.b" as &[u8], b"shop"]).unwrap();
    let mut msg = Message::query();
    msg.add_query(Query::query(name, RecordType::A));
    let (_, out) = run(&index, &msg.to_vec().unwrap(), Transport::Udp, true);
    let msg = Message::from_vec(&out).unwrap();
    assert_eq!(msg.metadata.response_code, ResponseCode::NXDomain);
}

#[test]
fn a_client_outside_the_range_is_refused_for_internal_and_external_names() {
    let index = index_with(1);
    let outsider = Client {
        ip: "192.0.2.9".parse().unwrap(),
        in_range: false,
    };
    for name in ["web.shop", "shop-web-1", "nope.shop", "example.com"] {
        let packet = query(name, RecordType::A, false);
        let mut scratch = Scratch::new();
        let mut out = Vec::new();
        let outcome = handle(
            &index,
            &packet,
            outsider,
            Transport::Udp,
            true,
            &mut scratch,
            &mut out,
        );
        assert_eq!(outcome, Outcome::Reply, "{name}: never forwarded");
        let msg = Message::from_vec(&out).unwrap();
        assert_eq!(msg.metadata.response_code, ResponseCode::Refused, "{name}");
        assert!(msg.answers.is_empty(), "{name}");
        assert!(out.len() <= packet.len(), "{name}: no amplification");
    }
}
