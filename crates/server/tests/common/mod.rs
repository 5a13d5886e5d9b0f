//! A Corral API server over a fresh in-memory store, served on a free port,
//! with no controllers: what the API alone does.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use corral_api::Client;
use corral_controllers::{Liveness, SystemClock};
use corral_server::{AppState, bootstrap, router};
use corral_store::{MemoryStore, Query, Store};
use corral_types::RawObject;

pub const TOKEN: &str = "test-token";

/// How long any single wait on the server may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub client: Client,
    /// A raw client, for malformed bodies and headers.
    pub http: reqwest::Client,
    /// The server's state (its audit log, its clock).
    pub state: AppState,
}

/// A response read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The `field` of an error body, or "".
    pub fn field(&self) -> String {
        self.json()["field"].as_str().unwrap_or("").to_string()
    }
}

/// Everything the store holds, and its revision: to check a request changed nothing.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub revision: u64,
    pub objects: Vec<RawObject>,
}

pub async fn start() -> TestServer {
    start_with(MemoryStore::new()).await
}

pub async fn start_with(store: MemoryStore) -> TestServer {
    start_configured(store, |_| {}).await
}

/// A server whose state `configure` adjusts first (login limits, ...).
pub async fn start_configured(
    store: MemoryStore,
    configure: impl FnOnce(&mut AppState),
) -> TestServer {
    let store: Arc<dyn Store> = Arc::new(store);
    let mut state = AppState::new(
        store.clone(),
        Arc::new(Liveness::with_interval(2)),
        Arc::new(SystemClock),
        TOKEN,
    );
    configure(&mut state);
    bootstrap(
        store.as_ref(),
        state.clock.as_ref(),
        corral_types::DEFAULT_ENV_NETWORK,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = state.clone();
    tokio::spawn(async move {
        let app = router(served).into_make_service_with_connect_info::<std::net::SocketAddr>();
        axum::serve(listener, app).await.unwrap();
    });
    let url = format!("http://{addr}");
    let client = Client::with_trust(&url, TOKEN, Default::default()).unwrap();
    let http = reqwest::Client::builder().timeout(WAIT).build().unwrap();
    TestServer {
        url,
        store,
        client,
        http,
        state,
    }
}

impl TestServer {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            revision: self.store.current_revision().unwrap(),
            objects: self.store.list(&Query::default()).unwrap().items,
        }
    }

    pub fn revision(&self) -> u64 {
        self.store.current_revision().unwrap()
    }

    /// A request with the admin token.
    pub async fn call(&self, method: Method, path: &str, body: impl Into<Vec<u8>>) -> Reply {
        let body: Vec<u8> = body.into();
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(TOKEN);
        if !body.is_empty() {
            req = req.header("content-type", "application/json").body(body);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        let status = resp.status();
        let text = resp.text().await.unwrap();
        Reply { status, text }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, Vec::new()).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::POST, path, body.to_string()).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> Reply {
        self.call(Method::PUT, path, body.to_string()).await
    }

    /// Sends a request that must be rejected with `status`; checks the error
    /// body is JSON with a message, that `field` (when given) is named in it,
    /// and that the store did not change.
    pub async fn reject(
        &self,
        method: Method,
        path: &str,
        body: impl Into<Vec<u8>>,
        status: u16,
        field: Option<&str>,
    ) -> Reply {
        let before = self.snapshot();
        let reply = self.call(method.clone(), path, body).await;
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{method} {path}: {}",
            reply.text
        );
        let json = reply.json();
        let message = json["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: error body without a message: {json}"));
        assert!(!message.is_empty());
        if let Some(field) = field {
            let named = json["field"].as_str().unwrap_or("");
            assert!(
                named.contains(field) || message.contains(field),
                "{method} {path}: expected the error to name {field:?}, got {json}"
            );
        }
        assert_eq!(
            before,
            self.snapshot(),
            "{method} {path} was rejected but changed the store"
        );
        reply
    }

    /// Starts a watch on `path` (with its query) and returns its lines.
    pub async fn watch(&self, path: &str) -> WatchLines {
        let resp = tokio::time::timeout(
            WAIT,
            reqwest::Client::new()
                .get(format!("{}{path}", self.url))
                .bearer_auth(TOKEN)
                .send(),
        )
        .await
        .expect("watch did not answer in time")
        .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "watch {path}");
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "application/x-ndjson"
        );
        WatchLines {
            body: Box::pin(resp.bytes_stream()),
            buf: Vec::new(),
        }
    }
}

/// The JSON lines of a watch response.
pub struct WatchLines {
    body: std::pin::Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    buf: Vec<u8>,
}

impl WatchLines {
    /// The next event; fails the test if none comes within [`WAIT`].
    pub async fn next(&mut self) -> Value {
        tokio::time::timeout(WAIT, self.next_line())
            .await
            .expect("no watch event in time")
            .expect("watch stream ended")
    }

    /// The next event, or `None` when the stream ends.
    pub async fn next_line(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            match self.body.next().await {
                Some(chunk) => self.buf.extend_from_slice(&chunk.unwrap()),
                None => return None,
            }
        }
    }

    /// Asserts nothing arrives for `d`.
    pub async fn assert_quiet(&mut self, d: Duration) {
        if let Ok(line) = tokio::time::timeout(d, self.next_line()).await {
            panic!("unexpected watch line: {line:?}");
        }
    }
}

/// A service body as a user sends it.
pub fn service(name: &str, image: &str) -> Value {
    serde_json::json!({
        "kind": "Service",
        "meta": {"name": name},
        "spec": {"image": image, "scale": 1}
    })
}

pub const SERVICES: &str = "/v1/environments/default/services";

/// A registered, joined node (as an agent does it, without a client
/// certificate: these servers serve plain HTTP): its client and credential.
pub async fn joined_node(s: &TestServer, env: &str, name: &str) -> (Client, String) {
    let reg = s
        .client
        .register(&corral_api::RegisterRequest {
            node: name.into(),
            environment: env.into(),
            ..corral_api::RegisterRequest::default()
        })
        .await
        .unwrap();
    let c = Client::with_trust(&s.url, &reg.credential, Default::default()).unwrap();
    c.join_node(env, name, &corral_api::JoinRequest::default())
        .await
        .unwrap();
    (c, reg.credential)
}

/// Creates environment `name` as the admin.
pub async fn env(s: &TestServer, name: &str) {
    let r = s
        .post(
            "/v1/environments",
            &serde_json::json!({"meta": {"name": name}, "spec": {}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// A user with `role` in `env` (none if `None`), logged in.
pub async fn user(
    s: &TestServer,
    name: &str,
    env: &str,
    role: Option<corral_types::Role>,
) -> Client {
    s.client
        .create_user(&corral_api::UserCreate {
            name: name.into(),
            password: format!("{name}-password"),
            ..corral_api::UserCreate::default()
        })
        .await
        .unwrap();
    if let Some(role) = role {
        s.client
            .add_member(
                env,
                &corral_api::MemberRequest {
                    subject: name.into(),
                    role,
                },
            )
            .await
            .unwrap();
    }
    let session = s
        .client
        .login(name, &format!("{name}-password"))
        .await
        .unwrap();
    Client::with_trust(&s.url, &session.token, Default::default()).unwrap()
}
