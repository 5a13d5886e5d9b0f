//! HTTP/1 message heads for the proxy: parsing with `httparse`, the length
//! of a body (RFC 9112 section 6), and the edited copies of the heads that
//! are sent on, written straight into a connection's write buffer.
//!
//! Requests whose length could be read two ways (Content-Length and
//! Transfer-Encoding, Content-Lengths that differ, a Transfer-Encoding not
//! ending in `chunked`) are refused: a backend could frame them otherwise
//! than the balancer does (request smuggling).

use std::io::Write;
use std::mem::MaybeUninit;

use httparse::{Header, ParserConfig, Status};

/// Largest request or response head, request line and headers included.
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most headers in one head (hyper's default, what the balancer took before).
pub(crate) const MAX_HEADERS: usize = 100;

/// Room for the headers of one head, filled by the parser.
pub(crate) type Slots<'b> = [MaybeUninit<Header<'b>>; MAX_HEADERS];

pub(crate) fn slots<'b>() -> Slots<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// Why a head cannot be proxied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// More than [`MAX_HEAD`] bytes or [`MAX_HEADERS`] headers (431).
    TooLarge,
    /// Not an HTTP/1.x head, or one whose framing is ambiguous (400).
    Malformed(&'static str),
}

/// How a body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyLen {
    /// No body and no Content-Length header.
    None,
    /// `Content-Length` (0 included).
    Length(u64),
    /// `Transfer-Encoding: ..., chunked`.
    Chunked,
    /// A response without a length: it ends when the backend closes.
    UntilClose,
}

impl BodyLen {
    /// True when there are no body bytes to move.
    pub fn is_empty(self) -> bool {
        matches!(self, BodyLen::None | BodyLen::Length(0))
    }
}

/// A parsed request head; the slices point into the read buffer.
pub(crate) struct RequestHead<'h, 'b> {
    pub method: &'b str,
    pub target: &'b str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: &'h [Header<'b>],
    /// Bytes of the head, its blank line included.
    pub len: usize,
}

/// A parsed response head.
pub(crate) struct ResponseHead<'h, 'b> {
    pub code: u16,
    pub reason: &'b str,
    pub minor: u8,
    pub headers: &'h [Header<'b>],
    pub len: usize,
}

fn parse_error(e: httparse::Error) -> HeadError {
    match e {
        httparse::Error::TooManyHeaders => HeadError::TooLarge,
        _ => HeadError::Malformed("not an HTTP/1 head"),
    }
}

/// The request head at the start of `buf`; `None` while it is incomplete.
pub(crate) fn parse_request<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut Slots<'b>,
) -> Result<Option<RequestHead<'h, 'b>>, HeadError> {
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(buf, slots) {
        Ok(Status::Complete(len)) if len <= MAX_HEAD => Ok(Some(RequestHead {
            // A complete parse sets all three.
            method: req.method.unwrap_or(""),
            target: req.path.unwrap_or(""),
            minor: req.version.unwrap_or(1),
            headers: req.headers,
            len,
        })),
        Ok(Status::Complete(_)) => Err(HeadError::TooLarge),
        Ok(Status::Partial) if buf.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(parse_error(e)),
    }
}

/// The response head at the start of `buf`; `None` while it is incomplete.
pub(crate) fn parse_response<'h, 'b>(
    buf: &'b [u8],
    slots: &'h mut Slots<'b>,
) -> Result<Option<ResponseHead<'h, 'b>>, HeadError> {
    let mut resp = httparse::Response::new(&mut []);
    match ParserConfig::default().parse_response_with_uninit_headers(&mut resp, buf, slots) {
        Ok(Status::Complete(len)) if len <= MAX_HEAD => Ok(Some(ResponseHead {
            code: resp.code.unwrap_or(0),
            reason: resp.reason.unwrap_or(""),
            minor: resp.version.unwrap_or(1),
            headers: resp.headers,
            len,
        })),
        Ok(Status::Complete(_)) => Err(HeadError::TooLarge),
        Ok(Status::Partial) if buf.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(Status::Partial) => Ok(None),
        Err(e) => Err(parse_error(e)),
    }
}

fn is(name: &str, wanted: &str) -> bool {
    name.eq_ignore_ascii_case(wanted)
}

fn comma_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|b| *b == b',').map(<[u8]>::trim_ascii)
}

/// The Content-Length (every value of every such header equal) and
/// whether a Transfer-Encoding header is present with `chunked` once, last.
struct Framing {
    length: Option<u64>,
    encoded: bool,
    chunked_last: bool,
}

fn framing(headers: &[Header<'_>]) -> Result<Framing, HeadError> {
    let mut f = Framing {
        length: None,
        encoded: false,
        chunked_last: false,
    };
    let mut chunked_seen = 0;
    for h in headers {
        if is(h.name, "content-length") {
            for token in comma_tokens(h.value) {
                let n = parse_length(token).ok_or(HeadError::Malformed("bad Content-Length"))?;
                if f.length.is_some_and(|l| l != n) {
                    return Err(HeadError::Malformed("Content-Lengths that differ"));
                }
                f.length = Some(n);
            }
        } else if is(h.name, "transfer-encoding") {
            f.encoded = true;
            for token in comma_tokens(h.value).filter(|t| !t.is_empty()) {
                f.chunked_last = token.eq_ignore_ascii_case(b"chunked");
                chunked_seen += usize::from(f.chunked_last);
            }
        }
    }
    f.chunked_last &= chunked_seen == 1;
    Ok(f)
}

fn parse_length(token: &[u8]) -> Option<u64> {
    if token.is_empty() || token.len() > 19 || !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(token.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

/// The body of a request: refused when it could be framed two ways.
pub(crate) fn request_body(headers: &[Header<'_>]) -> Result<BodyLen, HeadError> {
    let f = framing(headers)?;
    match (f.encoded, f.length) {
        (true, Some(_)) => Err(HeadError::Malformed(
            "both Content-Length and Transfer-Encoding",
        )),
        (true, None) if f.chunked_last => Ok(BodyLen::Chunked),
        (true, None) => Err(HeadError::Malformed(
            "a Transfer-Encoding that does not end in chunked",
        )),
        (false, Some(n)) => Ok(BodyLen::Length(n)),
        (false, None) => Ok(BodyLen::None),
    }
}

/// The body of a response (RFC 9112 section 6.3), and the Content-Length
/// to pass on (a HEAD or 304 answer keeps the one it announces).
pub(crate) fn response_body(
    code: u16,
    to_head: bool,
    headers: &[Header<'_>],
) -> Result<(BodyLen, Option<u64>), HeadError> {
    let f = framing(headers)?;
    if to_head || (100..200).contains(&code) || code == 204 || code == 304 {
        return Ok((BodyLen::None, f.length.filter(|_| !f.encoded)));
    }
    Ok(match (f.encoded, f.length) {
        (true, _) if f.chunked_last => (BodyLen::Chunked, None),
        (true, _) => (BodyLen::UntilClose, None),
        (false, Some(n)) => (BodyLen::Length(n), Some(n)),
        (false, None) => (BodyLen::UntilClose, None),
    })
}

/// True when a `Connection` header lists `token`.
pub(crate) fn connection_has(headers: &[Header<'_>], token: &str) -> bool {
    headers
        .iter()
        .filter(|h| is(h.name, "connection"))
        .flat_map(|h| comma_tokens(h.value))
        .any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// Hop-by-hop headers: for this connection only, never passed on.
/// Content-Length is rewritten from the parsed length.
fn hop_by_hop(name: &str, headers: &[Header<'_>], has_connection: bool) -> bool {
    const NAMES: [&str; 7] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
        "content-length",
    ];
    NAMES.iter().any(|n| is(name, n)) || (has_connection && connection_has(headers, name))
}

/// The value of header `name` when it appears exactly once; `Err` when
/// it appears more than once.
pub(crate) fn single<'b>(headers: &[Header<'b>], name: &str) -> Result<Option<&'b [u8]>, ()> {
    let mut found = None;
    for h in headers.iter().filter(|h| is(h.name, name)) {
        if found.replace(h.value).is_some() {
            return Err(());
        }
    }
    Ok(found)
}

/// The request's host without its port: the Host header, else the
/// authority of an absolute-form target.
pub(crate) fn host<'b>(req: &RequestHead<'_, 'b>) -> Result<&'b str, HeadError> {
    let header =
        single(req.headers, "host").map_err(|()| HeadError::Malformed("two Host headers"))?;
    let raw = match header.and_then(|h| std::str::from_utf8(h).ok()) {
        Some(h) => h,
        None => authority(req.target),
    };
    Ok(match raw.rfind(':') {
        Some(i) if !raw.ends_with(']') => &raw[..i],
        _ => raw,
    })
}

fn authority(target: &str) -> &str {
    let Some((_, rest)) = target.split_once("://") else {
        return "";
    };
    rest.split(['/', '?']).next().unwrap_or("")
}

/// The path of the target, without its query (`/` for an absolute-form
/// target without one).
pub(crate) fn path(target: &str) -> &str {
    let origin = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    origin.split('?').next().unwrap_or(origin)
}

/// The value of cookie `name` in the request's Cookie headers.
pub(crate) fn cookie<'b>(headers: &[Header<'b>], name: &str) -> Option<&'b str> {
    headers
        .iter()
        .filter(|h| is(h.name, "cookie"))
        .filter_map(|h| std::str::from_utf8(h.value).ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// What the balancer says of the client in the forwarding headers.
pub(crate) struct Forwarding<'a> {
    pub client_ip: &'a str,
    /// `http` or `https`.
    pub proto: &'a str,
    /// The source port.
    pub port: &'a str,
    /// Keep the client's own (`LbConfig::trust_forwarded_for`).
    pub trust: bool,
}

const FORWARDING: [&str; 5] = [
    "forwarded",
    "x-forwarded-for",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-port",
];

fn header_line(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Writes the head sent to a backend: HTTP/1.1, hop-by-hop headers and
/// `Expect: 100-continue` (the balancer answers it) left out,
/// Content-Length rewritten, and the forwarding headers: not trusted (the
/// default), what the client sent of them (and `Forwarded`) is replaced by
/// what the balancer saw, so a client cannot pass for another address;
/// trusted, the peer is appended to `X-Forwarded-For` and the others are
/// kept when present.
pub(crate) fn write_request_head(
    req: &RequestHead<'_, '_>,
    body: BodyLen,
    fwd: &Forwarding<'_>,
    out: &mut Vec<u8>,
) {
    let has_connection = req.headers.iter().any(|h| is(h.name, "connection"));
    out.extend_from_slice(req.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(req.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut kept = [false; FORWARDING.len()];
    let mut xff_chain = false;
    for h in req.headers {
        if hop_by_hop(h.name, req.headers, has_connection)
            || (is(h.name, "expect") && h.value.eq_ignore_ascii_case(b"100-continue"))
        {
            continue;
        }
        if let Some(i) = FORWARDING.iter().position(|n| is(h.name, n)) {
            if !fwd.trust || i == 1 {
                xff_chain |= i == 1;
                continue;
            }
            kept[i] = true;
        }
        header_line(out, h.name, h.value);
    }
    if let BodyLen::Length(n) = body {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if fwd.trust && xff_chain {
        for h in req.headers.iter().filter(|h| is(h.name, FORWARDING[1])) {
            out.extend_from_slice(h.value);
            out.extend_from_slice(b", ");
        }
    }
    out.extend_from_slice(fwd.client_ip.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (i, value) in [(2, fwd.client_ip), (3, fwd.proto), (4, fwd.port)] {
        if !kept[i] {
            header_line(out, FORWARDING[i], value.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// How the response goes to the client.
pub(crate) struct ClientFraming<'a> {
    /// Content-Length to write, if any.
    pub length: Option<u64>,
    /// Keep `Transfer-Encoding` (a chunked body re-encoded for an HTTP/1.1
    /// client, or another coding passed on as it is).
    pub keep_transfer_encoding: bool,
    /// `Set-Cookie` value for a sticky session.
    pub set_cookie: Option<&'a str>,
    /// `Some(true)`: `Connection: close`; `Some(false)`: `Connection:
    /// keep-alive` (an HTTP/1.0 client that asked for it).
    pub connection: Option<bool>,
}

/// Writes the response head sent to the client: hop-by-hop headers out,
/// the framing and connection headers of this connection in.
pub(crate) fn write_response_head(
    resp: &ResponseHead<'_, '_>,
    framing: &ClientFraming<'_>,
    out: &mut Vec<u8>,
) {
    let has_connection = resp.headers.iter().any(|h| is(h.name, "connection"));
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", resp.code, resp.reason);
    for h in resp.headers {
        if hop_by_hop(h.name, resp.headers, has_connection)
            || (!framing.keep_transfer_encoding && is(h.name, "transfer-encoding"))
        {
            continue;
        }
        header_line(out, h.name, h.value);
    }
    if let Some(n) = framing.length {
        let _ = write!(out, "content-length: {n}\r\n");
    }
    if let Some(c) = framing.set_cookie {
        header_line(out, "set-cookie", c.as_bytes());
    }
    match framing.connection {
        Some(true) => out.extend_from_slice(b"connection: close\r\n"),
        Some(false) => out.extend_from_slice(b"connection: keep-alive\r\n"),
        None => {}
    }
    out.extend_from_slice(b"\r\n");
}

/// Writes a short plain-text answer of the balancer's own.
pub(crate) fn write_message(
    status: u16,
    text: &str,
    with_body: bool,
    close: bool,
    out: &mut Vec<u8>,
) {
    let reason = match status {
        400 => "Bad Request",
        431 => "Request Header Fields Too Large",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{}\r\n",
        text.len(),
        if close { "connection: close\r\n" } else { "" }
    );
    if with_body {
        out.extend_from_slice(text.as_bytes());
    }
}

#[cfg(test)]
#[path = "h1_tests.rs"]
mod tests;
