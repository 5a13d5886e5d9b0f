//! The sockets: UDP and TCP on every listen address, the index kept
//! current from the environment's snapshots, and forwarding.
//!
//! Each UDP socket is read by a few worker tasks that answer internal
//! names inline (no task per query). Workers keep their own `Arc<Index>`
//! and look at a generation counter (one atomic load per query) to know
//! when to take the newer index; the index is built on the blocking pool,
//! never on the query path. Forwarded queries run in their own tasks, at
//! most [`MAX_FORWARDS`] at once and [`MAX_FORWARDS_PER_CLIENT`] per source
//! address (beyond either: SERVFAIL at once). Only clients inside
//! [`DnsConfig::clients`] are answered (others: REFUSED, see `access`).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use corral_netview::EnvSnapshot;
use corral_types::Ipv4Cidr;

use crate::access::{ClientRanges, ForwardSlots, MAX_FORWARDS_PER_CLIENT};
use crate::forward::Forwarder;
use crate::handler::{self, Client, Outcome, Scratch, Transport};
use crate::index::{Index, canonical_ip};
use crate::{relay, wire};

/// Forwarded queries in flight at once, over all sockets.
pub const MAX_FORWARDS: usize = 1024;
/// TCP connections served at once, over all listeners.
const MAX_TCP_CONNECTIONS: usize = 256;
/// A TCP connection idle this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The receive buffer asked for each UDP socket.
const UDP_SOCKET_BUFFER: usize = 4 << 20;
/// A UDP datagram larger than this is not a query we answer.
const UDP_RECV_BUFFER: usize = 4096;

/// What the server listens on and forwards to.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    /// UDP and TCP on each; port 0 picks a free port (the same for both).
    pub listen: Vec<SocketAddr>,
    /// Resolvers for external names, tried in order (see [`crate::host_resolvers`]).
    pub upstream: Vec<SocketAddr>,
    /// The `ENV` of `SERVICE.STACK.ENV.corral.internal`; empty: the
    /// snapshot's environment.
    pub environment: String,
    /// How long each upstream resolver gets before the next is tried.
    pub upstream_timeout: Duration,
    /// Worker tasks per UDP socket; 0: one per core (at most 4).
    pub udp_workers: usize,
    /// The source ranges answered: the environment's range (its managed
    /// network's CIDR). A query from any other address gets REFUSED, for
    /// internal and external names alike. Empty: nobody is answered.
    pub clients: Vec<Ipv4Cidr>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            listen: Vec::new(),
            upstream: Vec::new(),
            environment: String::new(),
            upstream_timeout: Duration::from_millis(1500),
            udp_workers: 0,
            clients: Vec::new(),
        }
    }
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("no listen address configured")]
    NoListenAddress,
    #[error("cannot listen on udp {addr}: {source}")]
    BindUdp {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("cannot listen on tcp {addr}: {source}")]
    BindTcp {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
}

/// State shared by every socket task.
struct Shared {
    index: RwLock<Arc<Index>>,
    /// Bumped after every new index is stored.
    generation: AtomicU64,
    forwarder: Forwarder,
    forwards: Arc<Semaphore>,
    clients: ClientRanges,
    client_forwards: Arc<ForwardSlots>,
}

impl Shared {
    fn client(&self, peer: SocketAddr) -> Client {
        let ip = canonical_ip(peer.ip());
        Client {
            ip,
            in_range: self.clients.allows(ip),
        }
    }
}

impl Shared {
    fn current(&self) -> Arc<Index> {
        // A poisoned lock still holds a complete index (it is only ever
        // replaced whole).
        let guard = self.index.read().unwrap_or_else(|e| e.into_inner());
        Arc::clone(&guard)
    }

    fn publish(&self, index: Index) {
        let index = Arc::new(index);
        *self.index.write().unwrap_or_else(|e| e.into_inner()) = index;
        self.generation.fetch_add(1, Ordering::Release);
    }
}

/// A worker's copy of the current index.
struct LocalIndex {
    index: Arc<Index>,
    generation: u64,
}

impl LocalIndex {
    fn new(shared: &Shared) -> LocalIndex {
        let generation = shared.generation.load(Ordering::Acquire);
        LocalIndex {
            index: shared.current(),
            generation,
        }
    }

    fn refresh(&mut self, shared: &Shared) -> &Index {
        let generation = shared.generation.load(Ordering::Acquire);
        if generation != self.generation {
            self.index = shared.current();
            self.generation = generation;
        }
        &self.index
    }
}

/// A DNS server bound to its sockets, not yet serving.
pub struct DnsServer {
    config: DnsConfig,
    udp: Vec<Arc<UdpSocket>>,
    tcp: Vec<TcpListener>,
}

impl DnsServer {
    /// Binds UDP and TCP on every listen address.
    pub async fn bind(config: DnsConfig) -> Result<DnsServer, DnsError> {
        if config.listen.is_empty() {
            return Err(DnsError::NoListenAddress);
        }
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for &addr in &config.listen {
            let (socket, listener) = bind_pair(addr).await?;
            udp.push(Arc::new(socket));
            tcp.push(listener);
        }
        Ok(DnsServer { config, udp, tcp })
    }

    /// The addresses actually bound (UDP and TCP share each one).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .collect()
    }

    /// Serves until `shutdown` becomes true (or its sender is dropped).
    /// The first index is built from the view's current snapshot before
    /// the first query is read.
    pub async fn run(
        self,
        mut view: watch::Receiver<Arc<EnvSnapshot>>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<(), DnsError> {
        let environment = self.config.environment.clone();
        let first = view.borrow_and_update().clone();
        let index = build(&first, &environment);
        let shared = Arc::new(Shared {
            index: RwLock::new(Arc::new(index)),
            generation: AtomicU64::new(0),
            forwarder: Forwarder::new(self.config.upstream.clone(), self.config.upstream_timeout),
            forwards: Arc::new(Semaphore::new(MAX_FORWARDS)),
            clients: ClientRanges::new(self.config.clients.clone()),
            client_forwards: ForwardSlots::new(MAX_FORWARDS_PER_CLIENT),
        });
        let mut tasks = JoinSet::new();
        tasks.spawn(follow_view(
            Arc::clone(&shared),
            view,
            environment,
            first.revision,
        ));
        let workers = worker_count(self.config.udp_workers);
        for socket in &self.udp {
            for _ in 0..workers {
                tasks.spawn(udp_worker(Arc::clone(socket), Arc::clone(&shared)));
            }
        }
        let connections = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
        for listener in self.tcp {
            tasks.spawn(tcp_acceptor(
                listener,
                Arc::clone(&shared),
                Arc::clone(&connections),
            ));
        }
        tracing::info!(listen = ?self.config.listen, upstream = ?self.config.upstream, clients = ?self.config.clients, "dns server started");
        // An error means the sender is gone: nobody can ask to stop any
        // more, which is taken as the request to stop.
        let _ = shutdown.wait_for(|stop| *stop).await;
        tasks.shutdown().await;
        tracing::info!("dns server stopped");
        Ok(())
    }
}

/// Binds every listen address and serves until `shutdown` becomes true.
pub async fn serve(
    config: DnsConfig,
    view: watch::Receiver<Arc<EnvSnapshot>>,
    shutdown: watch::Receiver<bool>,
) -> Result<(), DnsError> {
    DnsServer::bind(config).await?.run(view, shutdown).await
}

/// How often a listen address with port 0 is tried again when the port
/// the kernel gave UDP is already taken for TCP.
const EPHEMERAL_BIND_ATTEMPTS: usize = 16;

/// Binds UDP and then TCP on the same port. With port 0 the kernel picks
/// the UDP port, and that port may already be in use by some TCP socket;
/// then both are bound again on a new port, a bounded number of times.
async fn bind_pair(addr: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let socket = bind_udp(addr).map_err(|source| DnsError::BindUdp { addr, source })?;
        let bound = socket
            .local_addr()
            .map_err(|source| DnsError::BindUdp { addr, source })?;
        match TcpListener::bind(bound).await {
            Ok(listener) => return Ok((socket, listener)),
            Err(source)
                if addr.port() == 0
                    && source.kind() == io::ErrorKind::AddrInUse
                    && attempt < EPHEMERAL_BIND_ATTEMPTS =>
            {
                continue;
            }
            Err(source) => {
                return Err(DnsError::BindTcp {
                    addr: bound,
                    source,
                });
            }
        }
    }
}

/// A UDP socket with a receive buffer large enough for bursts of queries
/// (the default of about 200 datagrams overflows under load).
fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // The kernel caps the size at net.core.rmem_max; a smaller buffer
    // still works.
    if let Err(err) = socket.set_recv_buffer_size(UDP_SOCKET_BUFFER) {
        tracing::debug!(error = %err, "cannot enlarge the dns udp receive buffer");
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        return configured;
    }
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

fn build(snapshot: &EnvSnapshot, environment: &str) -> Index {
    if environment.is_empty() {
        Index::build(snapshot)
    } else {
        Index::build_for(snapshot, environment)
    }
}

/// Rebuilds the index on the blocking pool whenever the snapshot's
/// revision changes. Stops when the view's sender is gone (the last index
/// keeps being served).
async fn follow_view(
    shared: Arc<Shared>,
    mut view: watch::Receiver<Arc<EnvSnapshot>>,
    environment: String,
    mut revision: u64,
) {
    while view.changed().await.is_ok() {
        let snapshot = view.borrow_and_update().clone();
        if snapshot.revision == revision {
            continue;
        }
        revision = snapshot.revision;
        let env = environment.clone();
        match tokio::task::spawn_blocking(move || build(&snapshot, &env)).await {
            Ok(index) => shared.publish(index),
            Err(err) => tracing::error!(error = %err, "building the dns index failed"),
        }
    }
}

async fn udp_worker(socket: Arc<UdpSocket>, shared: Arc<Shared>) {
    let mut buf = vec![0u8; UDP_RECV_BUFFER];
    let mut out = Vec::with_capacity(wire::MAX_UDP_PAYLOAD);
    let mut scratch = Scratch::new();
    let mut local = LocalIndex::new(&shared);
    let has_upstream = shared.forwarder.has_upstream();
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(err) => {
                // ICMP errors of earlier sends surface here; keep serving.
                tracing::debug!(error = %err, "dns udp receive failed");
                continue;
            }
        };
        let packet = buf.get(..len).unwrap_or_default();
        let index = local.refresh(&shared);
        let client = shared.client(peer);
        let outcome = handler::handle(
            index,
            packet,
            client,
            Transport::Udp,
            has_upstream,
            &mut scratch,
            &mut out,
        );
        match outcome {
            Outcome::Reply => send_udp(&socket, &out, peer).await,
            Outcome::Forward => {
                forward_udp(&socket, &shared, packet, peer, client, &mut out).await;
            }
            Outcome::Drop => {}
        }
    }
}

async fn send_udp(socket: &UdpSocket, message: &[u8], peer: SocketAddr) {
    if let Err(err) = socket.send_to(message, peer).await {
        tracing::debug!(%peer, error = %err, "dns udp send failed");
    }
}

/// Starts forwarding one query in its own task, or answers SERVFAIL at
/// once when too many are in flight (from this client, or in all). The
/// answer is cut to the client's UDP size (see `relay`).
async fn forward_udp(
    socket: &Arc<UdpSocket>,
    shared: &Arc<Shared>,
    packet: &[u8],
    peer: SocketAddr,
    client: Client,
    out: &mut Vec<u8>,
) {
    let slot = shared.client_forwards.try_take(client.ip);
    let permit = Arc::clone(&shared.forwards).try_acquire_owned().ok();
    let (Some(slot), Some(permit)) = (slot, permit) else {
        servfail(packet, out);
        send_udp(socket, out, peer).await;
        return;
    };
    let socket = Arc::clone(socket);
    let shared = Arc::clone(shared);
    let query = packet.to_vec();
    tokio::spawn(async move {
        let _held = (slot, permit);
        let reply = match shared.forwarder.udp(&query).await {
            Ok(answer) => relay::fit_udp(&query, answer),
            Err(err) => {
                tracing::debug!(error = %err, "dns forward failed");
                let mut out = Vec::new();
                servfail(&query, &mut out);
                out
            }
        };
        if !reply.is_empty() {
            send_udp(&socket, &reply, peer).await;
        }
    });
}

/// Writes a SERVFAIL answer to `query` (a query that parsed once).
fn servfail(query: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if let Ok(req) = wire::parse(query) {
        wire::write_error(out, &req.header, Some(req.question), ResponseCode::ServFail);
    }
}

/// Forwards one query that came over TCP and waits for the answer, or
/// answers SERVFAIL at once when the client has too many in flight.
async fn forward_tcp(shared: &Shared, query: &[u8], client: Client, out: &mut Vec<u8>) {
    let Some(_slot) = shared.client_forwards.try_take(client.ip) else {
        servfail(query, out);
        return;
    };
    match shared.forwarder.tcp(query).await {
        Ok(answer) => *out = answer,
        Err(err) => {
            tracing::debug!(error = %err, "dns forward over tcp failed");
            servfail(query, out);
        }
    }
}

async fn tcp_acceptor(listener: TcpListener, shared: Arc<Shared>, connections: Arc<Semaphore>) {
    loop {
        let Ok(permit) = Arc::clone(&connections).acquire_owned().await else {
            return;
        };
        match listener.accept().await {
            Ok((stream, peer)) => {
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let _permit = permit;
                    if let Err(err) = tcp_connection(stream, peer, &shared).await {
                        tracing::debug!(%peer, error = %err, "dns tcp connection ended");
                    }
                });
            }
            Err(err) => {
                tracing::debug!(error = %err, "dns tcp accept failed");
                // Out of file descriptors and the like: do not spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves length-prefixed queries on one connection, one at a time, until
/// the client closes it or stays idle for [`TCP_IDLE`].
async fn tcp_connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    shared: &Shared,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut scratch = Scratch::new();
    let mut local = LocalIndex::new(shared);
    let mut query = Vec::new();
    let mut out = Vec::new();
    let client = shared.client(peer);
    loop {
        let len = match tokio::time::timeout(TCP_IDLE, stream.read_u16()).await {
            Ok(Ok(len)) => usize::from(len),
            Ok(Err(err)) if err.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(err)) => return Err(err),
            Err(_) => return Ok(()),
        };
        query.resize(len, 0);
        tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut query))
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        let index = local.refresh(shared);
        let has_upstream = shared.forwarder.has_upstream();
        match handler::handle(
            index,
            &query,
            client,
            Transport::Tcp,
            has_upstream,
            &mut scratch,
            &mut out,
        ) {
            Outcome::Reply => {}
            Outcome::Forward => forward_tcp(shared, &query, client, &mut out).await,
            Outcome::Drop => continue,
        }
        if out.is_empty() {
            continue;
        }
        let len = u16::try_from(out.len()).map_err(|_| io::ErrorKind::InvalidData)?;
        let mut framed = Vec::with_capacity(out.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(&out);
        stream.write_all(&framed).await?;
    }
}
