//! One backend (an instance's address and target port) and its pool of
//! idle HTTP/1.1 connections.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::limits::IdleBody;

/// The body of a request sent to a backend: the client's, or empty (for
/// requests without a body, so that they can be sent again elsewhere).
pub(crate) type ReqBody = Either<IdleBody<Incoming>, Empty<Bytes>>;

/// At most this many idle connections are kept per backend.
const MAX_IDLE: usize = 512;
/// Time to establish a TCP connection to a backend.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Time a pooled connection may take to become ready again.
const READY_TIMEOUT: Duration = Duration::from_secs(1);

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
    #[error("http handshake with {addr}: {source}")]
    Handshake {
        addr: SocketAddr,
        source: hyper::Error,
    },
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
    idle: Mutex<Vec<SendRequest<ReqBody>>>,
}

impl Backend {
    pub fn new(instance: &str, addr: SocketAddr) -> Self {
        Backend {
            instance: instance.to_string(),
            addr,
            cookie: format!("{:016x}", fnv1a(instance.as_bytes())),
            retired: AtomicBool::new(false),
            idle: Mutex::new(Vec::new()),
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

    fn take_idle(&self) -> Option<SendRequest<ReqBody>> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    /// Gives a connection back after its response was read to the end.
    pub fn put_idle(&self, sender: SendRequest<ReqBody>) {
        if self.is_retired() || sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }

    /// An idle connection that is still open, or a new one.
    pub async fn checkout(&self) -> Result<SendRequest<ReqBody>, BackendError> {
        while let Some(mut sender) = self.take_idle() {
            if sender.is_ready() {
                return Ok(sender);
            }
            if sender.is_closed() {
                continue;
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_TIMEOUT, sender.ready()).await {
                return Ok(sender);
            }
        }
        self.connect().await
    }

    async fn connect(&self) -> Result<SendRequest<ReqBody>, BackendError> {
        let addr = self.addr;
        let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(source)) => return Err(BackendError::Connect { addr, source }),
            Err(_) => return Err(BackendError::ConnectTimeout { addr }),
        };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .writev(false)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| BackendError::Handshake { addr, source })?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, error = %e, "backend connection ended");
            }
        });
        Ok(sender)
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

/// A backend's response body; gives the connection back to the pool once
/// the body was read to the end (a body dropped early closes it).
pub(crate) struct PooledBody {
    inner: Incoming,
    done: bool,
    conn: Option<(SendRequest<ReqBody>, Arc<Backend>)>,
}

impl PooledBody {
    pub fn new(inner: Incoming, sender: SendRequest<ReqBody>, backend: Arc<Backend>) -> Self {
        PooledBody {
            inner,
            done: false,
            conn: Some((sender, backend)),
        }
    }

    fn release(&mut self) {
        if let Some((sender, backend)) = self.conn.take() {
            backend.put_idle(sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => {
                this.done = true;
                this.release();
            }
            Poll::Ready(Some(Err(_))) => this.conn = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        if self.done || self.inner.is_end_stream() {
            self.release();
        }
    }
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
