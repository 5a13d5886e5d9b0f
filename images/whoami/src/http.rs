//! Just enough HTTP/1.x: read a request head, parse it, write a response.

use std::fmt;
use std::io::{self, BufRead, Write};

/// The most bytes a request line plus headers may take.
pub const MAX_HEAD: usize = 16 * 1024;

/// Blank lines tolerated before a request line (RFC 9112 2.2).
const MAX_LEADING_BLANK_LINES: usize = 8;

#[derive(Debug)]
pub enum HeadError {
    /// The head is longer than the limit.
    TooLarge,
    /// Too many blank lines before the request line.
    Blank,
    /// The peer closed the connection in the middle of a head.
    Truncated,
    Io(io::Error),
}

impl From<io::Error> for HeadError {
    fn from(e: io::Error) -> Self {
        HeadError::Io(e)
    }
}

/// Reads a request head, up to and including its blank line.
///
/// `Ok(None)` when the peer closed the connection before sending anything.
pub fn read_head<R: BufRead>(reader: &mut R, limit: usize) -> Result<Option<Vec<u8>>, HeadError> {
    let mut head = Vec::new();
    let mut blank_lines = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(HeadError::Truncated)
            };
        }
        let (used, line_end) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        head.extend_from_slice(&buf[..used]);
        reader.consume(used);
        if head.len() > limit {
            return Err(HeadError::TooLarge);
        }
        if !line_end {
            continue;
        }
        if head == b"\r\n" || head == b"\n" {
            blank_lines += 1;
            if blank_lines > MAX_LEADING_BLANK_LINES {
                return Err(HeadError::Blank);
            }
            head.clear();
        } else if head.ends_with(b"\n\r\n") || head.ends_with(b"\n\n") {
            return Ok(Some(head));
        }
    }
}

/// Why a request head is malformed (answered with 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    RequestLine(String),
    Version(String),
    Header(String),
    ContentLength(String),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::RequestLine(l) => write!(f, "malformed request line {l:?}"),
            ParseError::Version(v) => write!(f, "unsupported http version {v:?}"),
            ParseError::Header(h) => write!(f, "malformed header line {h:?}"),
            ParseError::ContentLength(v) => write!(f, "invalid content-length {v:?}"),
        }
    }
}

/// A parsed request head; header names and values as received (values trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
}

/// RFC 9110 `tchar`: what a method or a header name may contain.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Parses a head read by [`read_head`]. Invalid UTF-8 is replaced, not refused.
pub fn parse_request(head: &[u8]) -> Result<Request, ParseError> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(ParseError::RequestLine(line.to_string()));
    };
    if !is_token(method) || target.is_empty() || target.chars().any(char::is_control) {
        return Err(ParseError::RequestLine(line.to_string()));
    }
    if *version != "HTTP/1.1" && *version != "HTTP/1.0" {
        return Err(ParseError::Version(version.to_string()));
    }
    let mut headers = Vec::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        // Obsolete line folding starts with whitespace: refused (RFC 9112 5.2).
        let Some((name, value)) = line.split_once(':') else {
            return Err(ParseError::Header(line.to_string()));
        };
        if !is_token(name) {
            return Err(ParseError::Header(line.to_string()));
        }
        headers.push((name.to_string(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
    })
}

impl Request {
    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The target without its query string.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The first value of a query parameter (not percent-decoded).
    pub fn query(&self, key: &str) -> Option<&str> {
        let (_, query) = self.target.split_once('?')?;
        query
            .split('&')
            .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    pub fn request_line(&self) -> String {
        format!("{} {} {}", self.method, self.target, self.version)
    }

    /// Whether the connection stays open after the response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub fn keep_alive(&self) -> bool {
        let has = |token: &str| {
            self.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
                .flat_map(|(_, v)| v.split(','))
                .any(|t| t.trim().eq_ignore_ascii_case(token))
        };
        if has("close") {
            false
        } else {
            self.version == "HTTP/1.1" || has("keep-alive")
        }
    }

    /// The declared body length: 0 without `Content-Length`.
    pub fn content_length(&self) -> Result<u64, ParseError> {
        match self.header("content-length") {
            None => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| ParseError::ContentLength(v.to_string())),
        }
    }

    /// Whether the body is chunked (or otherwise framed by `Transfer-Encoding`).
    pub fn has_transfer_encoding(&self) -> bool {
        self.header("transfer-encoding").is_some()
    }
}

/// A complete response; the body is small and held in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: body.into().into_bytes(),
        }
    }

    pub fn json(body: String) -> Self {
        Response {
            status: 200,
            content_type: "application/json",
            body: body.into_bytes(),
        }
    }
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Content Too Large",
        _ => "Unknown",
    }
}

/// Writes `response`; the body is left out for `HEAD`.
pub fn write_response<W: Write>(
    w: &mut W,
    response: &Response,
    keep_alive: bool,
    head_only: bool,
) -> io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
        response.status,
        reason_phrase(response.status),
        response.content_type,
        response.body.len(),
    );
    let mut out = head.into_bytes();
    if !head_only {
        out.extend_from_slice(&response.body);
    }
    w.write_all(&out)?;
    w.flush()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn head(raw: &str) -> Result<Option<Vec<u8>>, HeadError> {
        read_head(&mut Cursor::new(raw.as_bytes().to_vec()), MAX_HEAD)
    }

    #[test]
    fn read_head_stops_at_the_blank_line_and_leaves_the_rest() {
        let mut input =
            Cursor::new(b"GET / HTTP/1.1\r\nA: b\r\n\r\nGET /2 HTTP/1.1\r\n\r\n".to_vec());
        let first = read_head(&mut input, MAX_HEAD).unwrap().unwrap();
        assert_eq!(first, b"GET / HTTP/1.1\r\nA: b\r\n\r\n");
        let second = read_head(&mut input, MAX_HEAD).unwrap().unwrap();
        assert_eq!(second, b"GET /2 HTTP/1.1\r\n\r\n");
        assert!(read_head(&mut input, MAX_HEAD).unwrap().is_none());
    }

    #[test]
    fn read_head_skips_leading_blank_lines_and_accepts_bare_newlines() {
        assert_eq!(
            head("\r\n\nGET / HTTP/1.0\n\n").unwrap().unwrap(),
            b"GET / HTTP/1.0\n\n"
        );
    }

    #[test]
    fn read_head_refuses_oversized_and_truncated_heads() {
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert!(matches!(head(&big), Err(HeadError::TooLarge)));
        assert!(matches!(
            head("GET / HTTP/1.1\r\nA: b\r\n"),
            Err(HeadError::Truncated)
        ));
        assert!(matches!(head(&"\r\n".repeat(20)), Err(HeadError::Blank)));
    }

    #[test]
    fn parse_request_keeps_headers_as_received() {
        let r = parse_request(
            b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\nX-Custom:  spaced value \r\nx-custom: 2\r\n\r\n",
        )
        .unwrap();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path(), "/a");
        assert_eq!(r.query("x"), Some("1"));
        assert_eq!(r.query("y"), None);
        assert_eq!(r.request_line(), "GET /a?x=1 HTTP/1.1");
        assert_eq!(
            r.headers[1],
            ("X-Custom".to_string(), "spaced value".to_string())
        );
        assert_eq!(r.header("X-CUSTOM"), Some("spaced value"));
    }

    #[test]
    fn parse_request_refuses_malformed_heads() {
        for bad in [
            "GET /\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n",
            "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
        ] {
            assert!(
                parse_request(bad.as_bytes()).is_err(),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn keep_alive_follows_version_and_connection_header() {
        let req = |raw: &str| parse_request(raw.as_bytes()).unwrap();
        assert!(req("GET / HTTP/1.1\r\n\r\n").keep_alive());
        assert!(!req("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive());
        assert!(!req("GET / HTTP/1.0\r\n\r\n").keep_alive());
        assert!(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive());
        assert!(!req("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n").keep_alive());
    }

    #[test]
    fn content_length_must_be_a_number() {
        let req = |raw: &str| parse_request(raw.as_bytes()).unwrap();
        assert_eq!(
            req("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n").content_length(),
            Ok(12)
        );
        assert!(
            req("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n")
                .content_length()
                .is_err()
        );
    }

    #[test]
    fn write_response_sets_length_and_connection() {
        let mut out = Vec::new();
        write_response(&mut out, &Response::text(200, "ok"), false, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        );
    }
}
