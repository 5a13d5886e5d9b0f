use std::pin::Pin;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use corral_types::{
    Environment, Instance, InstanceStatus, Kind, Node, Object, Service, SourceFile, Stack,
};

use crate::wire::{
    DeployRequest, ErrorBody, JoinRequest, List, LogsQuery, NodeAck, ScaleRequest, StackPlan,
    StatusBatchResult, StatusReport, WatchEvent, WatchEventType,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status.
    #[error("{message}")]
    Status {
        status: u16,
        message: String,
        field: Option<String>,
    },
    #[error("cannot reach the corral server at {url}: {message}")]
    Transport { url: String, message: String },
    #[error("unexpected response from {url}: {message}")]
    Decode { url: String, message: String },
}

impl ApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    pub fn is_conflict(&self) -> bool {
        self.status() == Some(409)
    }
}

/// Watch events as they arrive.
pub type EventStream<T> = Pin<Box<dyn Stream<Item = Result<WatchEvent<T>, ApiError>> + Send>>;

/// A typed client of the Corral HTTP API.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: String,
    trust: crate::Trust,
    pub(crate) http: reqwest::Client,
}

/// How many objects [`Client::list`] asks for per page.
pub const LIST_PAGE: usize = 1000;

fn path_for(env: &str, kind: Kind) -> String {
    if kind == Kind::Environment {
        "/v1/environments".to_string()
    } else {
        format!("/v1/environments/{env}/{}", kind.plural())
    }
}

impl Client {
    /// A client of the server at `base_url` (`https://127.0.0.1:7480`)
    /// that trusts the CA in `ca_pem` only.
    pub fn new(base_url: &str, token: &str, ca_pem: &str) -> Result<Self, ApiError> {
        Client::with_trust(base_url, token, crate::Trust::pinned(ca_pem))
    }

    /// A client with the given TLS side (a node's client certificate, or
    /// no CA for a plain `http://` server).
    pub fn with_trust(base_url: &str, token: &str, trust: crate::Trust) -> Result<Self, ApiError> {
        let http = trust.http_client().map_err(|message| ApiError::Transport {
            url: base_url.to_string(),
            message,
        })?;
        Ok(Client {
            base: base_url.trim_end_matches('/').to_string(),
            token: token.to_string(),
            trust,
            http,
        })
    }

    /// A client of the same server with the same token and trust, but a
    /// pool of connections of its own. A pooled connection is driven by the
    /// tokio runtime that opened it: a client used on its own runtime (a
    /// probe measuring latency) must not borrow connections of a busy one.
    pub fn with_own_connections(&self) -> Result<Self, ApiError> {
        Client::with_trust(&self.base, &self.token, self.trust.clone())
    }

    /// The same server and trust, another token.
    pub fn with_token(&self, token: &str) -> Result<Self, ApiError> {
        Client::with_trust(&self.base, token, self.trust.clone())
    }

    /// The TLS side of this client.
    pub fn trust(&self) -> &crate::Trust {
        &self.trust
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn transport(&self, e: reqwest::Error) -> ApiError {
        ApiError::Transport {
            url: self.base.clone(),
            message: error_chain(&e),
        }
    }

    pub(crate) async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let resp = req
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| self.transport(e))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let (message, field) = match serde_json::from_str::<ErrorBody>(&text) {
            Ok(body) => (body.error, body.field),
            Err(_) if text.trim().is_empty() => (format!("server answered {status}"), None),
            Err(_) => (format!("server answered {status}: {}", text.trim()), None),
        };
        Err(ApiError::Status {
            status,
            message,
            field,
        })
    }

    pub(crate) async fn json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let resp = self.send(req).await?;
        let url = resp.url().to_string();
        let bytes = resp.bytes().await.map_err(|e| self.transport(e))?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode {
            url,
            message: e.to_string(),
        })
    }

    /// `GET` of any path, decoded.
    pub async fn get_path<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.json(self.http.get(self.url(path))).await
    }

    pub async fn get<S, T>(
        &self,
        env: &str,
        kind: Kind,
        name: &str,
    ) -> Result<Object<S, T>, ApiError>
    where
        Object<S, T>: DeserializeOwned,
    {
        let path = format!("{}/{name}", path_for(env, kind));
        self.get_path(&path).await
    }

    /// Every object of `kind` in `env` matching `selector`, read in pages
    /// of [`LIST_PAGE`] (so the server never holds a whole large list for
    /// one answer); the revision is the first page's, to watch from.
    pub async fn list<S, T>(
        &self,
        env: &str,
        kind: Kind,
        selector: &str,
    ) -> Result<List<Object<S, T>>, ApiError>
    where
        Object<S, T>: DeserializeOwned,
    {
        let mut page: List<Object<S, T>> =
            self.list_page(env, kind, selector, LIST_PAGE, None).await?;
        let mut items = std::mem::take(&mut page.items);
        while let Some(token) = page.continue_token.take() {
            page = self
                .list_page(env, kind, selector, LIST_PAGE, Some(&token))
                .await?;
            items.append(&mut page.items);
        }
        Ok(List::whole(items, page.revision))
    }

    /// One page of at most `limit` objects, after the page whose
    /// `continue` token is `continue_token` (none: the first page).
    pub async fn list_page<S, T>(
        &self,
        env: &str,
        kind: Kind,
        selector: &str,
        limit: usize,
        continue_token: Option<&str>,
    ) -> Result<List<Object<S, T>>, ApiError>
    where
        Object<S, T>: DeserializeOwned,
    {
        let limit = limit.to_string();
        let mut query = vec![("labelSelector", selector), ("limit", limit.as_str())];
        if let Some(token) = continue_token {
            query.push(("continue", token));
        }
        let req = self.http.get(self.url(&path_for(env, kind))).query(&query);
        self.json(req).await
    }

    pub async fn create<S, T>(&self, obj: &Object<S, T>) -> Result<Object<S, T>, ApiError>
    where
        Object<S, T>: Serialize + DeserializeOwned,
    {
        let path = path_for(&obj.meta.environment, obj.kind);
        self.json(self.http.post(self.url(&path)).json(obj)).await
    }

    /// Replaces an object; `obj.meta.revision` must be the revision read.
    pub async fn update<S, T>(&self, obj: &Object<S, T>) -> Result<Object<S, T>, ApiError>
    where
        Object<S, T>: Serialize + DeserializeOwned,
    {
        let path = format!(
            "{}/{}",
            path_for(&obj.meta.environment, obj.kind),
            obj.meta.name
        );
        self.json(self.http.put(self.url(&path)).json(obj)).await
    }

    pub async fn delete(&self, env: &str, kind: Kind, name: &str) -> Result<(), ApiError> {
        let path = format!("{}/{name}", path_for(env, kind));
        self.send(self.http.delete(self.url(&path)))
            .await
            .map(|_| ())
    }

    /// Events of `kind` in `env` after `revision`, as they happen. Bookmarks
    /// are skipped; an expired watch ends with a 410 error (list again).
    pub async fn watch<S, T>(
        &self,
        env: &str,
        kind: Kind,
        selector: &str,
        revision: u64,
    ) -> Result<EventStream<Object<S, T>>, ApiError>
    where
        Object<S, T>: DeserializeOwned + Send + 'static,
    {
        let rev = revision.to_string();
        let req = self.http.get(self.url(&path_for(env, kind))).query(&[
            ("watch", "true"),
            ("revision", rev.as_str()),
            ("labelSelector", selector),
        ]);
        let resp = self.send(req).await?;
        Ok(json_lines(resp.bytes_stream(), self.base.clone()))
    }

    pub async fn environments(&self) -> Result<List<Environment>, ApiError> {
        self.list("", Kind::Environment, "").await
    }

    pub async fn nodes(&self, env: &str) -> Result<List<Node>, ApiError> {
        self.list(env, Kind::Node, "").await
    }

    pub async fn services(&self, env: &str) -> Result<List<Service>, ApiError> {
        self.list(env, Kind::Service, "").await
    }

    /// The instances of one service, ordered by name.
    pub async fn service_instances(
        &self,
        env: &str,
        service: &str,
    ) -> Result<List<Instance>, ApiError> {
        let selector = format!("{}={service}", corral_types::ContainerLabels::SERVICE);
        self.list(env, Kind::Instance, &selector).await
    }

    pub async fn scale_service(
        &self,
        env: &str,
        name: &str,
        scale: u32,
    ) -> Result<Service, ApiError> {
        let path = format!("/v1/environments/{env}/services/{name}/scale");
        self.json(
            self.http
                .post(self.url(&path))
                .json(&ScaleRequest { scale }),
        )
        .await
    }

    /// Deploys compose files as a stack (or plans it, with `dry_run`).
    pub async fn deploy_stack(
        &self,
        env: &str,
        name: &str,
        req: &DeployRequest,
    ) -> Result<StackPlan, ApiError> {
        let path = format!("/v1/environments/{env}/stacks/{name}/deploy");
        self.json(self.http.post(self.url(&path)).json(req)).await
    }

    /// Compose files that deploy to the same stack again.
    pub async fn export_stack(&self, env: &str, name: &str) -> Result<Vec<SourceFile>, ApiError> {
        self.get_path(&format!("/v1/environments/{env}/stacks/{name}/export"))
            .await
    }

    pub async fn stacks(&self, env: &str) -> Result<List<Stack>, ApiError> {
        self.list(env, Kind::Stack, "").await
    }

    /// The instances of every service of a stack.
    pub async fn stack_instances(
        &self,
        env: &str,
        stack: &str,
    ) -> Result<List<Instance>, ApiError> {
        let selector = format!("{}={stack}", corral_types::ContainerLabels::STACK);
        self.list(env, Kind::Instance, &selector).await
    }

    /// Rolls a service back to its previous launch config.
    pub async fn rollback_service(&self, env: &str, name: &str) -> Result<Service, ApiError> {
        let path = format!("/v1/environments/{env}/services/{name}/rollback");
        self.json(self.http.post(self.url(&path))).await
    }

    /// Pauses (`true`) or resumes (`false`) a service's upgrade.
    pub async fn pause_service(
        &self,
        env: &str,
        name: &str,
        pause: bool,
    ) -> Result<Service, ApiError> {
        let verb = if pause { "pause" } else { "resume" };
        let path = format!("/v1/environments/{env}/services/{name}/{verb}");
        self.json(self.http.post(self.url(&path))).await
    }

    /// Drains a node: unschedulable, and its instances move off (replicated
    /// ones start-first, global ones are removed).
    pub async fn drain_node(&self, env: &str, name: &str) -> Result<Node, ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{name}/drain");
        self.json(self.http.post(self.url(&path))).await
    }

    /// Makes a drained or cordoned node schedulable again.
    pub async fn activate_node(&self, env: &str, name: &str) -> Result<Node, ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{name}/activate");
        self.json(self.http.post(self.url(&path))).await
    }

    /// Removes a node. Without `force` the server refuses (409) while the
    /// node is active and runs instances; its instances are rescheduled.
    pub async fn remove_node(&self, env: &str, name: &str, force: bool) -> Result<(), ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{name}");
        let req = self.http.delete(self.url(&path));
        let req = if force {
            req.query(&[("force", "true")])
        } else {
            req
        };
        self.send(req).await.map(|_| ())
    }

    pub async fn join_node(
        &self,
        env: &str,
        name: &str,
        join: &JoinRequest,
    ) -> Result<NodeAck, ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{name}/join");
        self.json(self.http.post(self.url(&path)).json(join)).await
    }

    pub async fn heartbeat(&self, env: &str, name: &str) -> Result<NodeAck, ApiError> {
        let path = format!("/v1/environments/{env}/nodes/{name}/heartbeat");
        self.json(self.http.post(self.url(&path))).await
    }

    pub async fn report_instance_status(
        &self,
        env: &str,
        name: &str,
        status: &InstanceStatus,
    ) -> Result<Instance, ApiError> {
        let path = format!("/v1/environments/{env}/instances/{name}/status");
        self.json(self.http.put(self.url(&path)).json(status)).await
    }

    /// Reports the status of several instances of node `node` in one request
    /// (at most [`crate::MAX_STATUS_BATCH`]). Instances that are gone or
    /// placed on another node come back in `errors`, not as a failure of the
    /// whole request.
    pub async fn report_statuses(
        &self,
        env: &str,
        node: &str,
        reports: &[StatusReport],
    ) -> Result<StatusBatchResult, ApiError> {
        /// [`crate::StatusBatch`] without copying the reports.
        #[derive(Serialize)]
        struct Batch<'a> {
            statuses: &'a [StatusReport],
        }
        let path = format!("/v1/environments/{env}/nodes/{node}/statuses");
        self.json(
            self.http
                .post(self.url(&path))
                .json(&Batch { statuses: reports }),
        )
        .await
    }

    /// Container output of one instance as raw bytes.
    pub async fn logs(
        &self,
        env: &str,
        instance: &str,
        query: &LogsQuery,
    ) -> Result<Pin<Box<dyn Stream<Item = Result<Bytes, ApiError>> + Send>>, ApiError> {
        let path = format!("/v1/environments/{env}/instances/{instance}/logs");
        let mut req = self
            .http
            .get(self.url(&path))
            .query(&[("follow", query.follow.to_string())]);
        if let Some(tail) = query.tail {
            req = req.query(&[("tail", tail.to_string())]);
        }
        let resp = self.send(req).await?;
        let base = self.base.clone();
        Ok(Box::pin(resp.bytes_stream().map(move |r| {
            r.map_err(|e| ApiError::Transport {
                url: base.clone(),
                message: error_chain(&e),
            })
        })))
    }
}

/// Splits a byte stream into lines and decodes each as a watch event.
fn json_lines<T, S>(body: S, url: String) -> EventStream<T>
where
    T: DeserializeOwned + Send + 'static,
    S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
{
    decoded_lines(body, url, |line, url| match marker_of(line) {
        Some(WatchEventType::Bookmark) => Line::Skip,
        Some(_) => Line::Stop(ApiError::Status {
            status: 410,
            message: "watch expired: list again and watch from the new revision".into(),
            field: None,
        }),
        None => Line::Item(serde_json::from_slice::<WatchEvent<T>>(line).map_err(|e| {
            ApiError::Decode {
                url: url.to_string(),
                message: e.to_string(),
            }
        })),
    })
}

/// What one line of a JSON-lines body becomes.
pub(crate) enum Line<T> {
    /// Nothing (a bookmark).
    Skip,
    Item(Result<T, ApiError>),
    /// An error after which the bytes already read are dropped.
    Stop(ApiError),
}

/// Splits a byte stream into its non-blank lines (without the newline)
/// and turns each into an item with `decode`, which gets the line and the
/// URL; a transport error ends the stream with an error.
pub(crate) fn decoded_lines<T, S, F>(
    body: S,
    url: String,
    decode: F,
) -> Pin<Box<dyn Stream<Item = Result<T, ApiError>> + Send>>
where
    T: Send + 'static,
    S: Stream<Item = reqwest::Result<Bytes>> + Send + 'static,
    F: Fn(&[u8], &str) -> Line<T> + Send + 'static,
{
    let stream = futures::stream::unfold(
        (Box::pin(body), Vec::<u8>::new(), url, decode),
        |(mut body, mut buf, url, decode)| async move {
            loop {
                if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = buf.drain(..=pos).collect();
                    let line = &line[..line.len() - 1];
                    if line.iter().all(u8::is_ascii_whitespace) {
                        continue;
                    }
                    match decode(line, &url) {
                        Line::Skip => continue,
                        Line::Item(item) => return Some((item, (body, buf, url, decode))),
                        Line::Stop(err) => {
                            return Some((Err(err), (body, Vec::new(), url, decode)));
                        }
                    }
                }
                match body.next().await {
                    Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
                    Some(Err(e)) => {
                        let err = ApiError::Transport {
                            url: url.clone(),
                            message: error_chain(&e),
                        };
                        return Some((Err(err), (body, Vec::new(), url, decode)));
                    }
                    None => return None,
                }
            }
        },
    );
    Box::pin(stream)
}

/// The type of a bookmark or expired event, which carries no object to decode.
fn marker_of(line: &[u8]) -> Option<WatchEventType> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        event_type: WatchEventType,
    }
    let head: Head = serde_json::from_slice(line).ok()?;
    matches!(
        head.event_type,
        WatchEventType::Bookmark | WatchEventType::Expired
    )
    .then_some(head.event_type)
}

/// The error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = cause.source();
    }
    msg
}
