//! One query in, one decision out: answer from the index (response bytes
//! written), forward upstream, or drop. Pure apart from the random order of
//! the answers, so the server's socket loops stay thin.

use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, RecordType};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand::seq::SliceRandom;

use crate::index::{Answer, Index};
use crate::wire::{self, MAX_TCP_MESSAGE};

/// The TTL of every internal answer, in seconds: instances come and go,
/// so clients must ask again soon.
pub const TTL_SECS: u32 = 1;

/// What the server does with a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The response is in the output buffer.
    Reply,
    /// Not an internal name: send the query upstream.
    Forward,
    /// Not a query (or unreadable): no answer.
    Drop,
}

/// The transport a query came over, which limits the response size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// Who sent a query: its source address (canonical), and whether that
/// address is inside the ranges the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Client {
    pub ip: IpAddr,
    pub in_range: bool,
}

/// Per-worker buffers and random source, reused for every query.
pub(crate) struct Scratch {
    rng: SmallRng,
    addrs: Vec<IpAddr>,
}

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch {
            rng: SmallRng::from_os_rng(),
            addrs: Vec::with_capacity(64),
        }
    }
}

/// Handles one query from `client`; the response (if any) is written to
/// `out`. A client outside the answered ranges gets REFUSED for every
/// query, internal names included (only containers of the environment are
/// answered, as Rancher's DNS did). `has_upstream` tells whether external
/// names can be forwarded: without upstream resolvers they get REFUSED.
pub(crate) fn handle(
    index: &Index,
    packet: &[u8],
    client: Client,
    transport: Transport,
    has_upstream: bool,
    scratch: &mut Scratch,
    out: &mut Vec<u8>,
) -> Outcome {
    let req = match wire::parse(packet) {
        Ok(req) => req,
        Err(err) => {
            return match err.reply() {
                Some((header, rcode)) => {
                    wire::write_error(out, header, None, rcode);
                    Outcome::Reply
                }
                None => Outcome::Drop,
            };
        }
    };
    if !client.in_range {
        // The same size as the query: no amplification for a forged source.
        wire::write_error(out, &req.header, Some(req.question), ResponseCode::Refused);
        return Outcome::Reply;
    }
    let mut name_buf = [0u8; 256];
    let name = wire::name_text(&req.name, &mut name_buf);
    match index.resolve(name, client.ip) {
        Answer::Forward if has_upstream => Outcome::Forward,
        Answer::Forward => {
            wire::write_error(out, &req.header, Some(req.question), ResponseCode::Refused);
            Outcome::Reply
        }
        Answer::NxDomain => {
            wire::write_response(out, &req, ResponseCode::NXDomain, &[], TTL_SECS);
            Outcome::Reply
        }
        Answer::Addresses(addrs) => {
            let (v4, v6) = wanted_families(req.qclass, req.qtype);
            scratch.addrs.clear();
            scratch.addrs.extend(
                addrs
                    .iter()
                    .filter(|a| (a.is_ipv4() && v4) || (a.is_ipv6() && v6)),
            );
            scratch.addrs.shuffle(&mut scratch.rng);
            let limit = match transport {
                Transport::Udp => req.udp_limit(),
                Transport::Tcp => MAX_TCP_MESSAGE,
            };
            let any_v6 = scratch.addrs.iter().any(IpAddr::is_ipv6);
            // Too many instances for one datagram: a random subset, never
            // a truncated response (clients would retry over TCP for
            // addresses they pick one of anyway).
            scratch
                .addrs
                .truncate(wire::records_that_fit(&req, limit, any_v6));
            wire::write_response(out, &req, ResponseCode::NoError, &scratch.addrs, TTL_SECS);
            Outcome::Reply
        }
    }
}

/// Which address families a question asks for: A, AAAA or ANY in class IN
/// (or ANY); anything else gets an empty NOERROR.
fn wanted_families(qclass: DNSClass, qtype: RecordType) -> (bool, bool) {
    if !matches!(qclass, DNSClass::IN | DNSClass::ANY) {
        return (false, false);
    }
    match qtype {
        RecordType::A => (true, false),
        RecordType::AAAA => (false, true),
        RecordType::ANY => (true, true),
        _ => (false, false),
    }
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
