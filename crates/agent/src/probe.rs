//! The real probes: HTTP and TCP from the agent's host to the container's
//! address on the engine's network, and commands run inside the container.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use corral_engine::ContainerEngine;
use corral_types::Probe;

use crate::health::Prober;

/// Probes containers of one engine.
pub struct EngineProber {
    pub engine: Arc<dyn ContainerEngine>,
}

#[async_trait::async_trait]
impl Prober for EngineProber {
    async fn probe(&self, container_id: &str, probe: &Probe, timeout: Duration) -> bool {
        match probe {
            Probe::Command { command } => {
                let cmd = exec_command(command);
                match self.engine.exec(container_id, &cmd, timeout).await {
                    Ok(r) => r.exit_code == 0,
                    Err(e) => {
                        tracing::debug!("health command in {container_id}: {e}");
                        false
                    }
                }
            }
            Probe::Http { port, request_line } => {
                let Some(ip) = self.address(container_id).await else {
                    return false;
                };
                tokio::time::timeout(timeout, http_probe(&ip, *port, request_line))
                    .await
                    .unwrap_or(false)
            }
            Probe::Tcp { port } => {
                let Some(ip) = self.address(container_id).await else {
                    return false;
                };
                let connect = TcpStream::connect((ip.as_str(), *port));
                matches!(tokio::time::timeout(timeout, connect).await, Ok(Ok(_)))
            }
        }
    }
}

impl EngineProber {
    async fn address(&self, container_id: &str) -> Option<String> {
        match self.engine.inspect(container_id).await {
            Ok(c) if !c.ip.is_empty() => Some(c.ip),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!("health probe of {container_id}: {e}");
                None
            }
        }
    }
}

/// `["CMD", args...]` runs the args; `["CMD-SHELL", s]` runs `/bin/sh -c s`;
/// anything else runs as given.
pub fn exec_command(command: &[String]) -> Vec<String> {
    match command.split_first() {
        Some((first, rest)) if first == "CMD" => rest.to_vec(),
        Some((first, rest)) if first == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        _ => command.to_vec(),
    }
}

/// The request line to send: a bare path becomes `GET <path> HTTP/1.0`,
/// `METHOD path` gets ` HTTP/1.0` appended.
pub fn request_line(spec: &str) -> String {
    let spec = spec.trim();
    let parts: Vec<&str> = spec.split_whitespace().collect();
    match parts.as_slice() {
        [] => "GET / HTTP/1.0".to_string(),
        [path] => format!("GET {path} HTTP/1.0"),
        [method, path] => format!("{method} {path} HTTP/1.0"),
        _ => spec.to_string(),
    }
}

/// True for a status line with a 2xx or 3xx code.
pub fn healthy_status_line(line: &str) -> bool {
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .is_some_and(|code| (200..400).contains(&code))
}

async fn http_probe(ip: &str, port: u16, spec: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect((ip, port)).await else {
        return false;
    };
    let request = format!(
        "{}\r\nHost: {ip}:{port}\r\nUser-Agent: corral-agent\r\nConnection: close\r\n\r\n",
        request_line(spec)
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let text = String::from_utf8_lossy(&buf);
    healthy_status_line(text.lines().next().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn compose_test_forms_become_commands() {
        assert_eq!(
            exec_command(&strings(&["CMD", "test", "-f", "/x"])),
            strings(&["test", "-f", "/x"])
        );
        assert_eq!(
            exec_command(&strings(&["CMD-SHELL", "test -f /tmp/ok"])),
            strings(&["/bin/sh", "-c", "test -f /tmp/ok"])
        );
        assert_eq!(exec_command(&strings(&["true"])), strings(&["true"]));
    }

    #[test]
    fn request_lines_are_completed() {
        assert_eq!(request_line("/health"), "GET /health HTTP/1.0");
        assert_eq!(request_line("HEAD /"), "HEAD / HTTP/1.0");
        assert_eq!(
            request_line("GET /healthz HTTP/1.1"),
            "GET /healthz HTTP/1.1"
        );
        assert_eq!(request_line(""), "GET / HTTP/1.0");
    }

    #[test]
    fn two_and_three_hundreds_are_healthy() {
        assert!(healthy_status_line("HTTP/1.0 200 OK"));
        assert!(healthy_status_line("HTTP/1.1 302 Found"));
        assert!(!healthy_status_line("HTTP/1.1 404 Not Found"));
        assert!(!healthy_status_line("HTTP/1.1 500 Oops"));
        assert!(!healthy_status_line("garbage"));
    }

    #[tokio::test]
    async fn the_http_probe_reads_the_status_line() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            for status in ["200 OK", "503 Unavailable"] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 1024];
                let n = s.read(&mut buf).await.unwrap();
                let request = String::from_utf8_lossy(&buf[..n]).to_string();
                assert!(request.starts_with("GET /health HTTP/1.0\r\n"), "{request}");
                assert!(request.contains(&format!("Host: 127.0.0.1:{port}")));
                let reply = format!("HTTP/1.0 {status}\r\n\r\n");
                s.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        assert!(http_probe("127.0.0.1", port, "/health").await);
        assert!(!http_probe("127.0.0.1", port, "/health").await);
        server.await.unwrap();
    }
}
