//! Test backends (tiny hyper and TCP servers), hand-built snapshots and clients.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use corral_lb::{LbHandle, LbRuntime, TlsMaterial};
use corral_netview::EnvSnapshot;
use corral_types::{Instance, InstanceState, Kind, LbConfig, LbProtocol, Object, PortRule};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A port free on every address 127.0.0.1..=127.0.0.n.
pub fn free_port_on(n: u8) -> u16 {
    loop {
        let port = free_port();
        let ok = (1..=n)
            .all(|i| std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, i), port)).is_ok());
        if ok {
            return port;
        }
    }
}

/// An HTTP backend answering `NAME PATH` with header `x-backend: NAME`;
/// `/slow` answers after 500 ms. Counts requests.
pub struct HttpBackend {
    pub name: String,
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl HttpBackend {
    pub async fn start(name: &str, addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let (n, h) = (name.to_string(), hits.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (n, h) = (n.clone(), h.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let (n, h) = (n.clone(), h.clone());
                        async move {
                            h.fetch_add(1, Ordering::SeqCst);
                            if let Some(resp) = echo(&n, req.uri().path(), &req).await {
                                let body = req.into_body().collect().await.unwrap().to_bytes();
                                return Ok::<_, Infallible>(resp(body));
                            }
                            if req.uri().path() == "/slow" {
                                tokio::time::sleep(Duration::from_millis(500)).await;
                            }
                            let xff = req
                                .headers()
                                .get("x-forwarded-for")
                                .map(|v| v.to_str().unwrap_or("").to_string())
                                .unwrap_or_default();
                            let proto = req
                                .headers()
                                .get("x-forwarded-proto")
                                .map(|v| v.to_str().unwrap_or("").to_string())
                                .unwrap_or_default();
                            let seen = |name: &str| {
                                req.headers()
                                    .get(name)
                                    .map(|v| v.to_str().unwrap_or("").to_string())
                                    .unwrap_or_default()
                            };
                            let (real_ip, port, forwarded) = (
                                seen("x-real-ip"),
                                seen("x-forwarded-port"),
                                seen("forwarded"),
                            );
                            let body = format!("{n} {}", req.uri().path());
                            let resp = Response::builder()
                                .header("x-backend", n.as_str())
                                .header("x-seen-te", seen("transfer-encoding"))
                                .header("x-seen-cl", seen("content-length"))
                                .header("x-seen-xff", xff)
                                .header("x-seen-proto", proto)
                                .header("x-seen-real-ip", real_ip)
                                .header("x-seen-port", port)
                                .header("x-seen-forwarded", forwarded)
                                .body(EchoBody::whole(Bytes::from(body)))
                                .unwrap();
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        HttpBackend {
            name: name.to_string(),
            addr,
            hits,
            task,
        }
    }

    /// Stops accepting (open connections keep going until dropped by the runtime).
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for HttpBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP backend writing `NAME\n` then echoing.
pub async fn tcp_backend(name: &str, addr: SocketAddr) -> JoinHandle<()> {
    let listener = TcpListener::bind(addr).await.unwrap();
    let greeting = format!("{name}\n");
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let g = greeting.clone();
            tokio::spawn(async move {
                let _ = s.write_all(g.as_bytes()).await;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}

/// A running instance `<service>-<n>` at `ip`.
pub fn instance(service: &str, n: u32, ip: IpAddr) -> Instance {
    let name = format!("{service}-{n}");
    let mut i: Instance = Object::new(Kind::Instance, "default", &name, Default::default());
    i.spec.service = service.to_string();
    i.spec.ordinal = n;
    i.status.state = InstanceState::Running;
    i.status.ip = ip.to_string();
    i
}

/// Publishes snapshots with increasing revisions.
pub struct View {
    pub tx: watch::Sender<Arc<EnvSnapshot>>,
    revision: AtomicU64,
}

impl View {
    pub fn new(instances: &[Instance]) -> (Self, watch::Receiver<Arc<EnvSnapshot>>) {
        let (tx, rx) = watch::channel(Arc::new(snapshot(instances, 1)));
        (
            View {
                tx,
                revision: AtomicU64::new(1),
            },
            rx,
        )
    }

    pub fn publish(&self, instances: &[Instance]) {
        let rev = self.revision.fetch_add(1, Ordering::SeqCst) + 1;
        self.tx.send_replace(Arc::new(snapshot(instances, rev)));
    }
}

fn snapshot(instances: &[Instance], revision: u64) -> EnvSnapshot {
    EnvSnapshot {
        environment: "default".into(),
        revision,
        synced: true,
        instances: instances
            .iter()
            .map(|i| (i.meta.name.clone(), i.clone()))
            .collect(),
        ..Default::default()
    }
}

pub fn rule(port: u16, protocol: LbProtocol, target: &str, target_port: u16) -> PortRule {
    PortRule {
        source_port: port,
        protocol,
        target_service: target.into(),
        target_port,
        ..Default::default()
    }
}

pub async fn start(
    config: LbConfig,
    certs: BTreeMap<String, TlsMaterial>,
    rx: watch::Receiver<Arc<EnvSnapshot>>,
) -> LbHandle {
    LbRuntime::start("shop-lb", config, "shop", certs, rx, LOCALHOST)
        .await
        .expect("the load balancer starts")
}

/// A keep-alive HTTP/1.1 client connection.
pub async fn connect(port: u16) -> SendRequest<Empty<Bytes>> {
    let stream = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    sender
}

pub struct Answer {
    pub status: u16,
    pub backend: String,
    pub body: String,
    pub headers: hyper::HeaderMap,
}

pub async fn get(
    sender: &mut SendRequest<Empty<Bytes>>,
    host: &str,
    path: &str,
    cookie: Option<&str>,
) -> Answer {
    sender.ready().await.unwrap();
    let mut req = Request::builder().uri(path).header("host", host);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    let resp = sender
        .send_request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let backend = headers
        .get("x-backend")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        backend,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers,
    }
}

/// One request on a new connection.
pub async fn get_once(port: u16, host: &str, path: &str) -> Answer {
    let mut c = connect(port).await;
    get(&mut c, host, path, None).await
}

/// Waits (at most 5 s) until `f` holds.
pub async fn eventually<F, Fut>(mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached within 5 s");
}

/// A response body: whole (Content-Length) or in two frames of unknown
/// length (sent chunked).
pub struct EchoBody {
    frames: std::collections::VecDeque<Bytes>,
    exact: Option<u64>,
}

impl EchoBody {
    pub fn whole(b: Bytes) -> Self {
        EchoBody {
            exact: Some(b.len() as u64),
            frames: [b].into(),
        }
    }

    pub fn chunked(b: Bytes) -> Self {
        let half = b.len() / 2;
        EchoBody {
            exact: None,
            frames: [b.slice(..half), b.slice(half..)].into(),
        }
    }
}

impl http_body::Body for EchoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(
            self.frames
                .pop_front()
                .map(|b| Ok(http_body::Frame::data(b))),
        )
    }

    fn size_hint(&self) -> http_body::SizeHint {
        match self.exact {
            Some(n) => http_body::SizeHint::with_exact(n),
            None => http_body::SizeHint::default(),
        }
    }
}

type EchoResp = Box<dyn FnOnce(Bytes) -> Response<EchoBody> + Send>;

/// `/echo` answers the request body (Content-Length), `/echo-chunked`
/// the same in chunks (both with `x-backend` and the request's
/// `Transfer-Encoding` as `x-seen-te`); other paths get `None`.
async fn echo(name: &str, path: &str, req: &Request<Incoming>) -> Option<EchoResp> {
    let chunked = match path {
        "/echo" => false,
        "/echo-chunked" => true,
        _ => return None,
    };
    let name = name.to_string();
    let te = req
        .headers()
        .get("transfer-encoding")
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    Some(Box::new(move |body: Bytes| {
        let body = if chunked {
            EchoBody::chunked(body)
        } else {
            EchoBody::whole(body)
        };
        Response::builder()
            .header("x-backend", name)
            .header("x-seen-te", te)
            .body(body)
            .unwrap()
    }))
}
