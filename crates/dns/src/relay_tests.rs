#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn query(name: &str, edns: Option<u16>) -> Vec<u8> {
    let mut msg = Message::query();
    msg.metadata.id = 777;
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        msg.set_edns(e);
    }
    msg.to_vec().unwrap()
}

/// An upstream answer to `query` with `records` A records.
fn answer_message(query: &[u8], records: u32) -> Message {
    let query = Message::from_vec(query).unwrap();
    let mut msg = Message::response(query.metadata.id, query.metadata.op_code);
    msg.metadata.recursion_available = true;
    let name = query.queries[0].name().clone();
    msg.add_query(query.queries[0].clone());
    for i in 0..records {
        let ip = Ipv4Addr::from(0xC000_0200 + i);
        msg.add_answer(Record::from_rdata(name.clone(), 300, RData::A(A(ip))));
    }
    msg
}

fn answer(query: &[u8], records: u32) -> Vec<u8> {
    answer_message(query, records).to_vec().unwrap()
}

#[test]
fn a_matching_answer_is_valid() {
    let q = query("www.example.com", None);
    assert!(valid_answer(&q, &answer(&q, 2)));
    // The question's letter case may differ (0x20 randomisation).
    let upper = query("WWW.Example.COM", None);
    assert!(valid_answer(&q, &answer(&upper, 1)));
}

#[test]
fn an_answer_to_another_id_or_question_is_never_relayed() {
    let q = query("www.example.com", None);
    let mut other_id = answer_message(&q, 1);
    other_id.metadata.id = 778;
    assert!(!valid_answer(&q, &other_id.to_vec().unwrap()));
    let other_name = answer(&query("evil.example.net", None), 1);
    assert!(!valid_answer(&q, &other_name));
    let mut two = answer_message(&q, 1);
    two.add_query(Query::query(
        Name::from_ascii("evil.example.net").unwrap(),
        RecordType::A,
    ));
    assert!(!valid_answer(&q, &two.to_vec().unwrap()));
}

#[test]
fn a_malformed_answer_is_never_relayed() {
    let q = query("www.example.com", None);
    let good = answer(&q, 3);
    // Cut inside the last record: the counts promise more than is there.
    assert!(!valid_answer(&q, &good[..good.len() - 3]));
    // Only a header (which counts a question and three answers).
    assert!(!valid_answer(&q, &good[..HEADER_LEN]));
    // Shorter than a header.
    assert!(!valid_answer(&q, &good[..5]));
    // Garbage after a header that claims one answer.
    let mut garbage = good[..HEADER_LEN].to_vec();
    garbage.extend_from_slice(&[0xFF; 40]);
    assert!(!valid_answer(&q, &garbage));
}

#[test]
fn a_query_is_not_an_answer() {
    let q = query("www.example.com", None);
    let mut echoed = answer_message(&q, 1);
    echoed.metadata.message_type = MessageType::Query;
    assert!(!valid_answer(&q, &echoed.to_vec().unwrap()));
}

#[test]
fn an_error_without_question_is_valid_only_without_records() {
    let q = query("www.example.com", None);
    let mut refused = Message::response(777, hickory_proto::op::OpCode::Query);
    refused.metadata.response_code = ResponseCode::Refused;
    assert!(valid_answer(&q, &refused.to_vec().unwrap()));
    let mut noerror = Message::response(777, hickory_proto::op::OpCode::Query);
    noerror.add_answer(Record::from_rdata(
        Name::from_ascii("www.example.com.").unwrap(),
        300,
        RData::A(A(Ipv4Addr::LOCALHOST)),
    ));
    assert!(!valid_answer(&q, &noerror.to_vec().unwrap()));
}

#[test]
fn an_answer_over_512_bytes_reaches_a_client_without_edns_truncated_and_empty() {
    let q = query("www.example.com", None);
    let big = answer(&q, 40);
    assert!(big.len() > 512, "{}", big.len());
    let sent = fit_udp(&q, big);
    assert!(sent.len() <= 512, "{}", sent.len());
    let msg = Message::from_vec(&sent).unwrap();
    assert_eq!(msg.metadata.id, 777);
    assert!(msg.metadata.truncation, "TC set");
    assert_eq!(msg.metadata.response_code, ResponseCode::NoError);
    assert!(msg.answers.is_empty());
    assert_eq!(msg.queries.len(), 1);
    assert_eq!(msg.queries[0].name().to_ascii(), "www.example.com.");
}

#[test]
fn an_answer_within_the_clients_edns_size_is_relayed_whole() {
    let q = query("www.example.com", Some(1232));
    let medium = answer(&q, 40);
    assert!(
        medium.len() > 512 && medium.len() <= 1232,
        "{}",
        medium.len()
    );
    assert_eq!(fit_udp(&q, medium.clone()), medium);
    let small = answer(&query("www.example.com", None), 2);
    assert_eq!(
        fit_udp(&query("www.example.com", None), small.clone()),
        small
    );
}

#[test]
fn an_answer_over_1232_bytes_is_truncated_even_for_a_larger_edns_size() {
    let q = query("www.example.com", Some(4096));
    let huge = answer(&q, 100);
    assert!(huge.len() > 1232, "{}", huge.len());
    let sent = fit_udp(&q, huge);
    assert!(sent.len() <= 512);
    let msg = Message::from_vec(&sent).unwrap();
    assert!(msg.metadata.truncation);
    assert!(msg.answers.is_empty());
    assert!(
        msg.edns.is_some(),
        "the client's EDNS is answered with an OPT"
    );
}
