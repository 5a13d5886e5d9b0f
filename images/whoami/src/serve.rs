//! One connection: read requests, answer them, keep the connection alive
//! while the client wants it.

use std::io::{self, BufReader, Read};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use crate::http::{self, HeadError, Request, Response};
use crate::{info, json, log_line};

/// How long an idle keep-alive connection (or a slow client) is kept.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Bodies are read and dropped up to this size; larger ones close the connection.
const MAX_DISCARDED_BODY: u64 = 1 << 20;
/// How long a connection closed on a bad request is drained.
const LINGER: Duration = Duration::from_secs(1);
/// The longest `/sleep?ms=`.
const MAX_SLEEP_MS: u64 = 10_000;

/// What the whole process knows, shared by every connection.
pub struct Context {
    pub hostname: String,
}

/// What to do once a response is written.
enum After {
    Continue,
    Exit(i32),
}

/// Serves one connection until the client closes it, asks to, or errs.
pub fn connection(stream: TcpStream, ctx: &Context) {
    if let Err(e) = serve(stream, ctx) {
        // Resets and timeouts are routine; anything else is worth a line.
        if !matches!(
            e.kind(),
            io::ErrorKind::ConnectionReset
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
        ) {
            eprintln!("whoami: connection: {e}");
        }
    }
}

fn serve(stream: TcpStream, ctx: &Context) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let peer = stream.peer_addr()?;
    let local = stream.local_addr()?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let head = match http::read_head(&mut reader, http::MAX_HEAD) {
            Ok(Some(head)) => head,
            Ok(None) | Err(HeadError::Truncated) => return Ok(()),
            Err(HeadError::Io(e)) => return Err(e),
            Err(HeadError::TooLarge) => {
                return bad_request(&mut reader, &mut writer, "request header too large");
            }
            Err(HeadError::Blank) => {
                return bad_request(&mut reader, &mut writer, "no request line");
            }
        };
        let request = match http::parse_request(&head) {
            Ok(request) => request,
            Err(e) => return bad_request(&mut reader, &mut writer, &e.to_string()),
        };
        let body_read = match discard_body(&mut reader, &request) {
            Ok(read) => read,
            Err(message) => return bad_request(&mut reader, &mut writer, &message),
        };
        let (response, after) = route(&request, ctx, peer, local);
        let keep_alive = body_read && request.keep_alive() && matches!(after, After::Continue);
        http::write_response(&mut writer, &response, keep_alive, request.method == "HEAD")?;
        log_line(&format!(
            "{} {} {}",
            request.method, request.target, response.status
        ));
        if let After::Exit(code) = after {
            std::process::exit(code);
        }
        if !keep_alive {
            return Ok(());
        }
    }
}

/// Answers 400 and closes the connection.
///
/// Closing a socket with unread input makes the kernel send a reset, which
/// can destroy the response before the client reads it; so the write side is
/// shut first and what the client still sends is drained for a moment.
fn bad_request<R: Read>(reader: &mut R, writer: &mut TcpStream, message: &str) -> io::Result<()> {
    log_line(&format!("bad request ({message}) 400"));
    let response = Response::text(400, format!("{message}\n"));
    http::write_response(writer, &response, false, false)?;
    writer.shutdown(Shutdown::Write)?;
    writer.set_read_timeout(Some(LINGER))?;
    // Errors (timeout, reset) only end the draining early.
    let _ = io::copy(&mut reader.take(MAX_DISCARDED_BODY), &mut io::sink());
    Ok(())
}

/// Reads the body and drops it, so the next request on the connection starts
/// at the right byte. `Ok(false)` when it could not be read (chunked, too
/// large, cut short): the connection is then closed after the response.
fn discard_body<R: Read>(reader: &mut R, request: &Request) -> Result<bool, String> {
    let length = request.content_length().map_err(|e| e.to_string())?;
    if request.has_transfer_encoding() || length > MAX_DISCARDED_BODY {
        return Ok(false);
    }
    let copied = io::copy(&mut reader.take(length), &mut io::sink()).unwrap_or(0);
    Ok(copied == length)
}

fn route(
    request: &Request,
    ctx: &Context,
    peer: SocketAddr,
    local: SocketAddr,
) -> (Response, After) {
    match request.path() {
        "/health" => (Response::text(200, "ok"), After::Continue),
        "/json" => (
            Response::json(echo_json(request, ctx, peer, local)),
            After::Continue,
        ),
        "/exit" => match request.query("code").map_or(Ok(0), str::parse::<i32>) {
            Ok(code) => (
                Response::text(200, format!("exiting with code {code}\n")),
                After::Exit(code),
            ),
            Err(_) => (
                Response::text(400, "code must be an integer\n"),
                After::Continue,
            ),
        },
        "/sleep" => match request.query("ms").and_then(|ms| ms.parse::<u64>().ok()) {
            Some(ms) if ms <= MAX_SLEEP_MS => {
                std::thread::sleep(Duration::from_millis(ms));
                (
                    Response::text(200, format!("slept {ms} ms\n")),
                    After::Continue,
                )
            }
            _ => (
                Response::text(
                    400,
                    format!("ms must be a number from 0 to {MAX_SLEEP_MS}\n"),
                ),
                After::Continue,
            ),
        },
        _ => (
            Response::text(200, echo_text(request, ctx, peer, local)),
            After::Continue,
        ),
    }
}

/// The plain text echo: who answered, who asked, and the request head.
fn echo_text(request: &Request, ctx: &Context, peer: SocketAddr, local: SocketAddr) -> String {
    let mut out = format!("Hostname: {}\n", ctx.hostname);
    for ip in info::local_ips(local.ip()) {
        out.push_str(&format!("IP: {ip}\n"));
    }
    out.push_str(&format!("RemoteAddr: {peer}\n{}\n", request.request_line()));
    for (name, value) in &request.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    out
}

/// The same as JSON; headers as `{"Name": ["value", ...]}` in the order first
/// seen, names grouped case-insensitively.
fn echo_json(request: &Request, ctx: &Context, peer: SocketAddr, local: SocketAddr) -> String {
    let ips: Vec<String> = info::local_ips(local.ip())
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut out = String::from("{");
    let strings = [
        ("hostname", ctx.hostname.clone()),
        ("remoteAddr", peer.to_string()),
        ("method", request.method.clone()),
        ("url", request.target.clone()),
        ("proto", request.version.clone()),
        ("requestLine", request.request_line()),
    ];
    for (i, (key, value)) in strings.iter().enumerate() {
        json::push_key(&mut out, key, i == 0);
        json::push_string(&mut out, value);
    }
    json::push_key(&mut out, "ip", false);
    json::push_string_array(&mut out, ips.iter().map(String::as_str));
    json::push_key(&mut out, "headers", false);
    out.push('{');
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &request.headers {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        json::push_key(&mut out, name, seen.is_empty());
        seen.push(name);
        let values = request
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        json::push_string_array(&mut out, values);
    }
    out.push_str("}}");
    out
}
