//! One backend (an instance's address and target port) and its pool of
//! idle HTTP/1.1 connections.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// At most this many idle connections are kept per backend.
const MAX_IDLE: usize = 512;
/// An idle connection unused this long is closed rather than reused (the
/// backend may have closed it on its side).
const POOL_IDLE: Duration = Duration::from_secs(30);
/// Time to establish a TCP connection to a backend.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Initial room of a backend connection's read buffer.
const READ_BUF: usize = 8 * 1024;

/// Why a connection to a backend could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    #[error("connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("connect to {addr}: timed out")]
    ConnectTimeout { addr: SocketAddr },
}

/// A connection to a backend, owned by one client connection's task for
/// one exchange, then given back to the pool.
#[derive(Debug)]
pub(crate) struct BackendConn {
    pub stream: TcpStream,
    /// What was read and not used yet (empty between exchanges).
    pub buf: BytesMut,
    /// True when it came from the pool (it may have been closed meanwhile).
    pub reused: bool,
    idle_since: Instant,
}

/// An instance's address on the target port. Shared by every route that
/// targets it and kept across table rebuilds while the instance serves.
#[derive(Debug)]
pub(crate) struct Backend {
    pub instance: String,
    pub addr: SocketAddr,
    /// The sticky cookie value naming this backend (a hash of the instance name).
    pub cookie: String,
    retired: AtomicBool,
    /// Most recently used last.
    idle: Mutex<VecDeque<BackendConn>>,
}

impl Backend {
    pub fn new(instance: &str, addr: SocketAddr) -> Self {
        Backend {
            instance: instance.to_string(),
            addr,
            cookie: format!("{:016x}", fnv1a(instance.as_bytes())),
            retired: AtomicBool::new(false),
            idle: Mutex::new(VecDeque::new()),
        }
    }

    /// True once the instance stopped serving: it gets no new requests.
    pub fn is_retired(&self) -> bool {
        self.retired.load(Ordering::Acquire)
    }

    /// Stops new requests to this backend and drops its idle connections;
    /// requests in flight finish on theirs.
    pub fn retire(&self) {
        self.retired.store(true, Ordering::Release);
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(idle);
    }

    fn take_idle(&self) -> Option<BackendConn> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_back()
    }

    /// Gives a connection back after a complete exchange (its response read
    /// to the end, nothing left over). Connections idle past `POOL_IDLE`
    /// are closed on the way.
    pub fn put_idle(&self, mut conn: BackendConn) {
        if self.is_retired() || !conn.buf.is_empty() {
            return;
        }
        let now = Instant::now();
        conn.idle_since = now;
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while idle
            .front()
            .is_some_and(|c| now.duration_since(c.idle_since) > POOL_IDLE)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(conn);
        }
    }

    /// The most recently used idle connection, or a new one. With `probe`
    /// (for a request that cannot be sent twice), a pooled connection the
    /// backend closed or wrote to meanwhile is skipped: a read that would
    /// block (no system call when the reactor saw nothing) tells.
    pub async fn checkout(&self, probe: bool) -> Result<BackendConn, BackendError> {
        while let Some(mut conn) = self.take_idle() {
            if conn.idle_since.elapsed() > POOL_IDLE {
                continue;
            }
            if probe {
                let mut byte = [0u8; 1];
                match conn.stream.try_read(&mut byte) {
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    _ => continue,
                }
            }
            conn.reused = true;
            return Ok(conn);
        }
        self.connect().await
    }

    /// A new connection.
    pub async fn connect(&self) -> Result<BackendConn, BackendError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(BackendError::Connect { addr, source }),
            Err(_) => return Err(BackendError::ConnectTimeout { addr }),
        };
        let _ = stream.set_nodelay(true);
        Ok(BackendConn {
            stream,
            buf: BytesMut::with_capacity(READ_BUF),
            reused: false,
            idle_since: Instant::now(),
        })
    }
}

/// FNV-1a, 64 bits: a stable, opaque name for an instance in a cookie.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_names_the_instance_stably_and_opaquely() {
        let addr: SocketAddr = ([127, 0, 0, 1], 80).into();
        let a = Backend::new("shop-web-1", addr);
        let b = Backend::new("shop-web-1", ([127, 0, 0, 2], 81).into());
        let c = Backend::new("shop-web-2", addr);
        assert_eq!(a.cookie, b.cookie);
        assert_ne!(a.cookie, c.cookie);
        assert_eq!(a.cookie.len(), 16);
        assert!(!a.cookie.contains("web"));
    }

    #[test]
    fn a_retired_backend_keeps_no_idle_connections() {
        let a = Backend::new("web-1", ([127, 0, 0, 1], 80).into());
        assert!(!a.is_retired());
        a.retire();
        assert!(a.is_retired());
        assert!(a.take_idle().is_none());
    }
}
