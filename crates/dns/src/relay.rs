//! What of an upstream answer reaches the client.
//!
//! - [`valid_answer`]: an answer is relayed only when it decodes completely
//!   (`hickory-proto`'s decoder), is a response with the query's id, and
//!   its question, when it has one, is the query's. Anything else is never
//!   sent to a client: over UDP it is skipped like a stray datagram (the
//!   real answer may still come, else the upstream times out), over TCP it
//!   ends the exchange with that upstream.
//! - [`fit_udp`]: an answer larger than the client's UDP size (512 bytes
//!   without EDNS, its EDNS size up to 1232) is replaced by an empty answer
//!   with the same id and response code and TC set, so the client asks
//!   again over TCP, which is forwarded over TCP.

use hickory_proto::op::{Message, MessageType, ResponseCode};

use crate::wire::{self, HEADER_LEN};

/// True when `answer` may be relayed to the client that sent `query`.
pub(crate) fn valid_answer(query: &[u8], answer: &[u8]) -> bool {
    if answer.len() < HEADER_LEN || query.get(..2) != answer.get(..2) {
        return false;
    }
    let Ok(msg) = Message::from_vec(answer) else {
        return false;
    };
    if msg.metadata.message_type != MessageType::Response {
        return false;
    }
    let Ok(req) = wire::parse(query) else {
        return false;
    };
    match msg.queries.as_slice() {
        // Some servers leave the question out of an error; such an answer
        // must then hold no records for a question nobody can check.
        [] => msg.answers.is_empty() && msg.metadata.response_code != ResponseCode::NoError,
        [question] => {
            question.name() == &req.name
                && question.query_type() == req.qtype
                && question.query_class() == req.qclass
        }
        _ => false,
    }
}

/// The datagram to send a UDP client for a valid `answer` to its `query`:
/// the answer itself when it fits the client's size, else an empty
/// truncated answer. Empty when the query cannot be read (it was read
/// before it was forwarded, so this does not happen).
pub(crate) fn fit_udp(query: &[u8], answer: Vec<u8>) -> Vec<u8> {
    let Ok(req) = wire::parse(query) else {
        return Vec::new();
    };
    if answer.len() <= req.udp_limit() {
        return answer;
    }
    let rcode = answer.get(3).map_or(ResponseCode::ServFail, |flags| {
        ResponseCode::from_low(flags & 0x0F)
    });
    let mut out = Vec::new();
    wire::write_truncated(&mut out, &req, rcode);
    out
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
