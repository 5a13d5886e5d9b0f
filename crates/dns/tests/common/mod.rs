//! Helpers of the socket tests: a server on 127.0.0.1, queries over UDP
//! and TCP, and fake upstream resolvers ("fakes belong in tests").

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../../src/testkit.rs"]
pub mod testkit;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use corral_dns::{DnsConfig, DnsServer};
use corral_netview::EnvSnapshot;
use corral_types::Ipv4Cidr;
use testkit::{Condition, Env};

/// The address the fake upstream answers every A query with.
pub const UPSTREAM_ANSWER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

pub struct Running {
    pub addr: SocketAddr,
    pub view: watch::Sender<Arc<EnvSnapshot>>,
    pub shutdown: watch::Sender<bool>,
    pub task: JoinHandle<Result<(), corral_dns::DnsError>>,
}

impl Running {
    pub async fn stop(self) {
        self.shutdown.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops when asked")
            .unwrap()
            .unwrap();
    }
}

/// The range that holds every address of the tests: they query from
/// 127.0.0.1 (and 127.0.0.2).
pub fn loopback() -> Ipv4Cidr {
    "127.0.0.0/8".parse().unwrap()
}

/// A server answering loopback clients, forwarding to `upstream`.
pub async fn start(snapshot: EnvSnapshot, upstream: Vec<SocketAddr>, timeout: Duration) -> Running {
    let config = DnsConfig {
        upstream,
        upstream_timeout: timeout,
        clients: vec![loopback()],
        ..DnsConfig::default()
    };
    start_with(snapshot, config).await
}

/// A server with `config`, listening on 127.0.0.1 on a free port.
pub async fn start_with(snapshot: EnvSnapshot, config: DnsConfig) -> Running {
    let config = DnsConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..config
    };
    let server = DnsServer::bind(config).await.unwrap();
    let addr = server.local_addrs()[0];
    let (view, view_rx) = watch::channel(Arc::new(snapshot));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let task = tokio::spawn(server.run(view_rx, shutdown_rx));
    Running {
        addr,
        view,
        shutdown,
        task,
    }
}

pub fn query_bytes(name: &str, qtype: RecordType) -> (u16, Vec<u8>) {
    let mut msg = Message::query();
    msg.metadata.recursion_desired = true;
    msg.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
    (msg.metadata.id, msg.to_vec().unwrap())
}

/// One query over UDP from `socket`; an error for a timeout.
pub async fn ask_udp(
    socket: &UdpSocket,
    server: SocketAddr,
    name: &str,
) -> Result<Message, String> {
    let (id, bytes) = query_bytes(name, RecordType::A);
    socket
        .send_to(&bytes, server)
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
    loop {
        let received = tokio::time::timeout_at(deadline, socket.recv_from(&mut buf)).await;
        let (len, _) = received
            .map_err(|_| format!("timeout for {name}"))?
            .map_err(|e| e.to_string())?;
        let msg = Message::from_vec(&buf[..len]).map_err(|e| e.to_string())?;
        // A late answer to an earlier query that timed out is skipped.
        if msg.metadata.id == id {
            return Ok(msg);
        }
    }
}

pub async fn ask_tcp(server: SocketAddr, name: &str) -> Message {
    let (_, bytes) = query_bytes(name, RecordType::A);
    let mut stream = TcpStream::connect(server).await.unwrap();
    stream.write_u16(bytes.len() as u16).await.unwrap();
    stream.write_all(&bytes).await.unwrap();
    let len = stream.read_u16().await.unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

pub async fn client_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

pub fn ips(msg: &Message) -> Vec<IpAddr> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            _ => None,
        })
        .collect()
}

/// A UDP socket and a TCP listener on one loopback port: the port the
/// kernel gives UDP may be taken for TCP by another test, so a few ports
/// are tried.
async fn udp_and_tcp_on_one_port() -> (UdpSocket, SocketAddr, TcpListener) {
    for _ in 0..16 {
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, addr, tcp);
        }
    }
    panic!("no loopback port was free for both UDP and TCP in 16 tries");
}

/// A fake upstream resolver on UDP and TCP (same port) answering every
/// query with [`UPSTREAM_ANSWER`] and counting the queries it got.
pub async fn fake_upstream() -> (SocketAddr, Arc<AtomicUsize>) {
    fake_upstream_with(|query| Some(upstream_answer(query))).await
}

/// A fake upstream resolver on UDP and TCP (same port) sending what
/// `respond` makes of each query (`None`: no answer, the query is held)
/// and counting the queries it got.
pub async fn fake_upstream_with(
    respond: fn(&[u8]) -> Option<Vec<u8>>,
) -> (SocketAddr, Arc<AtomicUsize>) {
    let (udp, addr, tcp) = udp_and_tcp_on_one_port().await;
    let count = Arc::new(AtomicUsize::new(0));
    let udp_count = Arc::clone(&count);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        while let Ok((len, peer)) = udp.recv_from(&mut buf).await {
            udp_count.fetch_add(1, Ordering::SeqCst);
            if let Some(answer) = respond(&buf[..len]) {
                let _ = udp.send_to(&answer, peer).await;
            }
        }
    });
    let tcp_count = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = tcp.accept().await {
            tcp_count.fetch_add(1, Ordering::SeqCst);
            let len = stream.read_u16().await.unwrap();
            let mut buf = vec![0u8; usize::from(len)];
            stream.read_exact(&mut buf).await.unwrap();
            if let Some(answer) = respond(&buf) {
                stream.write_u16(answer.len() as u16).await.unwrap();
                stream.write_all(&answer).await.unwrap();
            }
        }
    });
    (addr, count)
}

/// An answer to `query` with one A record, [`UPSTREAM_ANSWER`].
pub fn upstream_answer(query: &[u8]) -> Vec<u8> {
    upstream_answer_with(query, 1)
}

/// An answer to `query` with `records` A records (192.0.2.1 onwards).
pub fn upstream_answer_with(query: &[u8], records: u32) -> Vec<u8> {
    let query = Message::from_vec(query).unwrap();
    let mut msg = Message::response(query.metadata.id, query.metadata.op_code);
    msg.metadata.recursion_desired = query.metadata.recursion_desired;
    msg.metadata.recursion_available = true;
    let name = query.queries[0].name().clone();
    msg.add_query(query.queries[0].clone());
    for i in 0..records {
        let ip = Ipv4Addr::from(u32::from(UPSTREAM_ANSWER) + i);
        msg.add_answer(Record::from_rdata(name.clone(), 300, RData::A(A(ip))));
    }
    msg.to_vec().unwrap()
}

/// `web` in stack `shop` with two instances, and the test client
/// (127.0.0.1) as an instance of `shop-client`.
pub fn shop() -> Env {
    let mut env = Env::new();
    let web = env.service("shop", "web", |_| {});
    env.instance(&web, 1, "10.42.0.1", Condition::Serving);
    env.instance(&web, 2, "10.42.0.2", Condition::Serving);
    let client = env.service("shop", "client", |_| {});
    env.instance(&client, 1, "127.0.0.1", Condition::Serving);
    env
}
