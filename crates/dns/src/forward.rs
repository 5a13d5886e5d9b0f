//! Forwarding of external names to the host's resolvers.
//!
//! A query that came over UDP goes upstream over UDP from a fresh socket
//! on a random port (connected to the upstream, so only its datagrams are
//! read); a query that came over TCP goes upstream over TCP. Only an
//! answer that passes [`relay::valid_answer`] is returned (a malformed one
//! is skipped over UDP, an error over TCP); the server then cuts a UDP
//! answer to the client's size ([`relay::fit_udp`]): a truncated answer
//! (TC bit) makes the client retry over TCP with this server, which then
//! asks upstream over TCP. Upstream resolvers are tried in order, each
//! with its own timeout. Nothing is cached.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use crate::relay;
use crate::wire::MAX_TCP_MESSAGE;

/// Why a forwarded query got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("no upstream resolver configured")]
    NoUpstream,
    #[error("query of {len} bytes is too long to forward")]
    TooLong { len: usize },
    #[error("upstream {upstream} did not answer within {timeout:?}")]
    Timeout {
        upstream: SocketAddr,
        timeout: Duration,
    },
    #[error("exchange with upstream {upstream} failed: {source}")]
    Io {
        upstream: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// The upstream resolvers and how long each gets.
#[derive(Debug, Clone)]
pub(crate) struct Forwarder {
    upstream: Vec<SocketAddr>,
    timeout: Duration,
}

impl Forwarder {
    pub(crate) fn new(upstream: Vec<SocketAddr>, timeout: Duration) -> Forwarder {
        Forwarder { upstream, timeout }
    }

    pub(crate) fn has_upstream(&self) -> bool {
        !self.upstream.is_empty()
    }

    /// Sends `query` upstream over UDP and returns the first answer.
    pub(crate) async fn udp(&self, query: &[u8]) -> Result<Vec<u8>, ForwardError> {
        self.first_answer(|upstream| udp_exchange(upstream, query))
            .await
    }

    /// Sends `query` upstream over TCP and returns the answer.
    pub(crate) async fn tcp(&self, query: &[u8]) -> Result<Vec<u8>, ForwardError> {
        if query.len() > MAX_TCP_MESSAGE {
            return Err(ForwardError::TooLong { len: query.len() });
        }
        self.first_answer(|upstream| tcp_exchange(upstream, query))
            .await
    }

    /// Tries the upstream resolvers in order, each within the timeout, and
    /// returns the first answer, or the error of the last one tried.
    async fn first_answer<F, Fut>(&self, exchange: F) -> Result<Vec<u8>, ForwardError>
    where
        F: Fn(SocketAddr) -> Fut,
        Fut: std::future::Future<Output = std::io::Result<Vec<u8>>>,
    {
        let mut last = ForwardError::NoUpstream;
        for &upstream in &self.upstream {
            let deadline = Instant::now() + self.timeout;
            match timeout_at(deadline, exchange(upstream)).await {
                Ok(Ok(answer)) => return Ok(answer),
                Ok(Err(source)) => last = ForwardError::Io { upstream, source },
                Err(_) => {
                    last = ForwardError::Timeout {
                        upstream,
                        timeout: self.timeout,
                    }
                }
            }
        }
        Err(last)
    }
}

async fn udp_exchange(upstream: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let local: SocketAddr = match upstream {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; MAX_TCP_MESSAGE];
    loop {
        let len = socket.recv(&mut buf).await?;
        let answer = buf.get(..len).unwrap_or_default();
        if relay::valid_answer(query, answer) {
            buf.truncate(len);
            return Ok(buf);
        }
        // A stray, forged or malformed datagram: never relayed; keep
        // waiting for the real answer.
    }
}

async fn tcp_exchange(upstream: SocketAddr, query: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let len = u16::try_from(query.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(query);
    stream.write_all(&framed).await?;
    let len = stream.read_u16().await?;
    let mut answer = vec![0u8; usize::from(len)];
    stream.read_exact(&mut answer).await?;
    if !relay::valid_answer(query, &answer) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "answer is malformed or does not match the query",
        ));
    }
    Ok(answer)
}
