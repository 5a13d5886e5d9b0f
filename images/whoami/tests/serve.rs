//! Starts the real binary on a free local port and talks HTTP to it.
// The helpers below are test code too: a panic is how they report a failure.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The running server; killed when dropped.
struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    addr: String,
}

impl Server {
    fn start() -> Server {
        // A port that was free a moment ago; another process could take it
        // in between, which is unlikely enough for a test.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_corral-whoami"))
            .args(["--listen", &addr])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut server = Server {
            child,
            stdout,
            addr,
        };
        assert_eq!(
            server.next_log_line(),
            format!("whoami listening on {}", server.addr)
        );
        server
    }

    fn next_log_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }

    /// Sends `raw` on a new connection and reads until the server closes it.
    fn exchange(&self, raw: &str) -> String {
        let mut conn = TcpStream::connect(&self.addr).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        conn.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        conn.read_to_string(&mut out).unwrap();
        out
    }

    fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "whoami did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn root_echoes_host_request_line_and_custom_header() {
    let mut server = Server::start();
    let out = server.exchange(
        "GET /hello?x=1 HTTP/1.1\r\nHost: whoami.test\r\nX-Corral-Test: it \"works\"\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("Connection: close"), "{head}");
    assert!(body.starts_with("Hostname: "), "{body}");
    assert!(body.lines().any(|l| l.starts_with("IP: ")), "{body}");
    assert!(body.contains("RemoteAddr: 127.0.0.1:"), "{body}");
    assert!(
        body.contains("\nGET /hello?x=1 HTTP/1.1\nHost: whoami.test\n"),
        "{body}"
    );
    assert!(body.contains("\nX-Corral-Test: it \"works\"\n"), "{body}");
    assert_eq!(server.next_log_line(), "GET /hello?x=1 200");
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = Server::start();
    let out = server.exchange(
        "GET /health HTTP/1.1\r\n\r\nPOST /health HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /health HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3, "{out}");
    assert_eq!(out.matches("Connection: keep-alive").count(), 2, "{out}");
    assert!(out.ends_with("Connection: close\r\n\r\nok"), "{out}");
}

#[test]
fn json_endpoint_escapes_header_values() {
    let server = Server::start();
    let out = server.exchange("GET /json HTTP/1.0\r\nX-Quote: a\"b\\c\r\n\r\n");
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(body.starts_with("{\"hostname\":"), "{body}");
    assert!(body.contains("\"url\":\"/json\""), "{body}");
    assert!(
        body.contains("\"headers\":{\"X-Quote\":[\"a\\\"b\\\\c\"]}"),
        "{body}"
    );
}

#[test]
fn malformed_request_gets_400_and_the_server_keeps_serving() {
    let server = Server::start();
    let out = server.exchange("NOT HTTP\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    let big = format!("GET / HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    let out = server.exchange(&big);
    assert!(out.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{out}");
    let out = server.exchange("GET /health HTTP/1.0\r\n\r\n");
    assert!(out.ends_with("\r\n\r\nok"), "{out}");
}

#[test]
fn sleep_answers_after_the_delay_and_refuses_long_ones() {
    let server = Server::start();
    let started = Instant::now();
    let out = server.exchange("GET /sleep?ms=200 HTTP/1.0\r\n\r\n");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(out.ends_with("slept 200 ms\n"), "{out}");
    let out = server.exchange("GET /sleep?ms=10001 HTTP/1.0\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
}

#[test]
fn exit_endpoint_answers_then_exits_with_the_code() {
    let mut server = Server::start();
    let out = server.exchange("GET /exit?code=3 HTTP/1.1\r\n\r\n");
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert_eq!(server.wait_exit().code(), Some(3));
    assert_eq!(server.next_log_line(), "GET /exit?code=3 200");
}
