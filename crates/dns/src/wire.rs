//! DNS messages on the wire: reading a query (with `hickory-proto`'s
//! decoder) and writing the few responses this server makes.
//!
//! Responses copy the question section byte for byte (so the client's
//! letter case comes back as sent) and point every answer's owner name at
//! it (`0xC00C`), which keeps an A record at 16 bytes.

use std::net::IpAddr;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

/// A DNS header is 12 bytes.
pub(crate) const HEADER_LEN: usize = 12;
/// What a client without EDNS accepts over UDP.
pub(crate) const CLASSIC_UDP_PAYLOAD: usize = 512;
/// The largest UDP response this server sends (the DNS flag day value,
/// safe from IP fragmentation).
pub(crate) const MAX_UDP_PAYLOAD: usize = 1232;
/// The largest message over TCP (its two-byte length prefix).
pub(crate) const MAX_TCP_MESSAGE: usize = 65_535;

/// An OPT record with an empty owner and no options: 11 bytes.
const OPT_LEN: usize = 11;
/// A compressed A record: pointer, type, class, TTL, length, address.
const A_RECORD_LEN: usize = 16;
/// The same for AAAA.
const AAAA_RECORD_LEN: usize = 28;

/// Why a message was not read as a query.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("message shorter than a dns header ({len} bytes)")]
    TooShort { len: usize },
    #[error("message is a response, not a query")]
    NotAQuery,
    #[error("malformed question: {reason}")]
    Question { header: Header, reason: String },
    #[error("unsupported message: {count} questions")]
    QuestionCount { header: Header, count: u16 },
    #[error("unsupported opcode {opcode}")]
    Opcode { header: Header, opcode: OpCode },
}

impl WireError {
    /// The header to answer with and the code, or `None` to drop the
    /// message silently (never answer a response: that could loop).
    pub(crate) fn reply(&self) -> Option<(&Header, ResponseCode)> {
        match self {
            WireError::TooShort { .. } | WireError::NotAQuery => None,
            WireError::Question { header, .. } | WireError::QuestionCount { header, .. } => {
                Some((header, ResponseCode::FormErr))
            }
            WireError::Opcode { header, .. } => Some((header, ResponseCode::NotImp)),
        }
    }
}

/// One query as read from the wire.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub header: Header,
    /// The question section exactly as received.
    pub question: &'a [u8],
    pub name: Name,
    pub qtype: RecordType,
    pub qclass: DNSClass,
    /// The client's EDNS UDP payload size, when it sent an OPT record.
    pub edns_payload: Option<u16>,
}

impl Request<'_> {
    /// The largest response this client takes over UDP.
    pub(crate) fn udp_limit(&self) -> usize {
        match self.edns_payload {
            Some(size) => usize::from(size).clamp(CLASSIC_UDP_PAYLOAD, MAX_UDP_PAYLOAD),
            None => CLASSIC_UDP_PAYLOAD,
        }
    }
}

/// Reads a query: header, exactly one question, and an OPT record if the
/// additional section has one.
pub(crate) fn parse(packet: &[u8]) -> Result<Request<'_>, WireError> {
    if packet.len() < HEADER_LEN {
        return Err(WireError::TooShort { len: packet.len() });
    }
    let mut decoder = BinDecoder::new(packet);
    let header =
        Header::read(&mut decoder).map_err(|_| WireError::TooShort { len: packet.len() })?;
    if header.message_type == MessageType::Response {
        return Err(WireError::NotAQuery);
    }
    if header.op_code != OpCode::Query {
        let opcode = header.op_code;
        return Err(WireError::Opcode { header, opcode });
    }
    if header.counts.queries != 1 {
        let count = header.counts.queries;
        return Err(WireError::QuestionCount { header, count });
    }
    let question_err = |reason: String| WireError::Question { header, reason };
    let start = decoder.index();
    let name = Name::read(&mut decoder).map_err(|e| question_err(e.to_string()))?;
    let qtype = read_u16(&mut decoder).map_err(&question_err)?;
    let qclass = read_u16(&mut decoder).map_err(&question_err)?;
    let question = packet
        .get(start..decoder.index())
        .ok_or_else(|| question_err("question out of bounds".into()))?;
    let others = u32::from(header.counts.answers)
        + u32::from(header.counts.authorities)
        + u32::from(header.counts.additionals);
    let edns_payload = find_opt_payload(&mut decoder, others);
    Ok(Request {
        header,
        question,
        name,
        qtype: RecordType::from(qtype),
        qclass: DNSClass::from(qclass),
        edns_payload,
    })
}

fn read_u16(decoder: &mut BinDecoder<'_>) -> Result<u16, String> {
    decoder
        .read_u16()
        .map(|v| v.unverified(/* any value is read as a type or class */))
        .map_err(|e| e.to_string())
}

/// Skips `count` records and returns the payload size of the first OPT
/// record among them. A malformed record ends the search: the query is
/// then answered as one without EDNS.
fn find_opt_payload(decoder: &mut BinDecoder<'_>, count: u32) -> Option<u16> {
    for _ in 0..count {
        Name::read(decoder).ok()?;
        let rtype = read_u16(decoder).ok()?;
        let class = read_u16(decoder).ok()?;
        decoder.read_u32().ok()?;
        let rdlen = read_u16(decoder).ok()?;
        decoder.read_slice(usize::from(rdlen)).ok()?;
        if rtype == u16::from(RecordType::OPT) {
            return Some(class);
        }
    }
    None
}

/// The text form of a query name, lowercase and without the trailing dot,
/// written into `buf`. Bytes that cannot be part of an internal name
/// (anything but letters, digits, `-` and `_`) become `?`, so such a name
/// matches no internal name but keeps its shape (labels and suffix).
pub(crate) fn name_text<'b>(name: &Name, buf: &'b mut [u8; 256]) -> &'b str {
    let mut len = 0;
    for label in name.iter() {
        if len > 0 && len < buf.len() {
            buf[len] = b'.';
            len += 1;
        }
        for &byte in label {
            let Some(slot) = buf.get_mut(len) else { break };
            *slot = match byte.to_ascii_lowercase() {
                b @ (b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_') => b,
                _ => b'?',
            };
            len += 1;
        }
    }
    // Only ASCII bytes were written.
    std::str::from_utf8(&buf[..len]).unwrap_or_default()
}

/// How many address records of this size fit in a response of `limit`
/// bytes to `req`.
pub(crate) fn records_that_fit(req: &Request<'_>, limit: usize, ipv6: bool) -> usize {
    let fixed = HEADER_LEN + req.question.len() + opt_len(req);
    let per = if ipv6 { AAAA_RECORD_LEN } else { A_RECORD_LEN };
    limit.saturating_sub(fixed) / per
}

fn opt_len(req: &Request<'_>) -> usize {
    if req.edns_payload.is_some() {
        OPT_LEN
    } else {
        0
    }
}

/// Writes a response to `req` into `out` (cleared first): `rcode`, and an
/// A or AAAA record with `ttl` for each address (already shuffled and cut
/// to fit by the caller).
pub(crate) fn write_response(
    out: &mut Vec<u8>,
    req: &Request<'_>,
    rcode: ResponseCode,
    addrs: &[IpAddr],
    ttl: u32,
) {
    out.clear();
    let answers = u16::try_from(addrs.len()).unwrap_or(u16::MAX);
    let counts = HeaderCounts {
        queries: 1,
        answers,
        authorities: 0,
        additionals: u16::from(req.edns_payload.is_some()),
    };
    emit_header(out, &req.header, rcode, counts);
    out.extend_from_slice(req.question);
    for addr in addrs.iter().take(usize::from(answers)) {
        out.extend_from_slice(&[0xC0, 0x0C]);
        match addr {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&u16::from(RecordType::A).to_be_bytes());
                push_class_ttl(out, ttl);
                out.extend_from_slice(&4u16.to_be_bytes());
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&u16::from(RecordType::AAAA).to_be_bytes());
                push_class_ttl(out, ttl);
                out.extend_from_slice(&16u16.to_be_bytes());
                out.extend_from_slice(&v6.octets());
            }
        }
    }
    if req.edns_payload.is_some() {
        push_opt(out);
    }
}

/// Writes an error response (`rcode`, no records) to a query whose header
/// is `header`, echoing `question` when it was read.
pub(crate) fn write_error(
    out: &mut Vec<u8>,
    header: &Header,
    question: Option<&[u8]>,
    rcode: ResponseCode,
) {
    out.clear();
    let counts = HeaderCounts {
        queries: u16::from(question.is_some()),
        ..HeaderCounts::default()
    };
    emit_header(out, header, rcode, counts);
    if let Some(question) = question {
        out.extend_from_slice(question);
    }
}

/// Writes an empty response to `req` with TC set and `rcode`: what a UDP
/// client gets instead of a forwarded answer too large for it (it then asks
/// again over TCP). Echoes the question, and an OPT record when the client
/// sent one.
pub(crate) fn write_truncated(out: &mut Vec<u8>, req: &Request<'_>, rcode: ResponseCode) {
    out.clear();
    let counts = HeaderCounts {
        queries: 1,
        answers: 0,
        authorities: 0,
        additionals: u16::from(req.edns_payload.is_some()),
    };
    let mut metadata = response_metadata(&req.header, rcode);
    metadata.authoritative = false;
    metadata.truncation = true;
    emit(out, metadata, counts);
    out.extend_from_slice(req.question);
    if req.edns_payload.is_some() {
        push_opt(out);
    }
}

fn response_metadata(request: &Header, rcode: ResponseCode) -> Metadata {
    let mut metadata = Metadata::response_from_request(&request.metadata);
    metadata.authoritative = matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain);
    metadata.recursion_available = true;
    metadata.response_code = rcode;
    metadata
}

fn emit_header(out: &mut Vec<u8>, request: &Header, rcode: ResponseCode, counts: HeaderCounts) {
    emit(out, response_metadata(request, rcode), counts);
}

fn emit(out: &mut Vec<u8>, metadata: Metadata, counts: HeaderCounts) {
    let header = Header { metadata, counts };
    let mut encoder = BinEncoder::new(out);
    if header.emit(&mut encoder).is_err() {
        // Emitting 12 bytes into a growable buffer cannot fail; a header
        // of zeros would still be dropped by the client as a mismatch.
        out.clear();
        out.resize(HEADER_LEN, 0);
    }
}

fn push_class_ttl(out: &mut Vec<u8>, ttl: u32) {
    out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
}

/// An OPT record advertising [`MAX_UDP_PAYLOAD`], version 0, no flags.
fn push_opt(out: &mut Vec<u8>) {
    out.push(0);
    out.extend_from_slice(&u16::from(RecordType::OPT).to_be_bytes());
    out.extend_from_slice(&(MAX_UDP_PAYLOAD as u16).to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
}
