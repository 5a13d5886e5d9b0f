use serde::{Deserialize, Serialize};

use corral_types::{Instance, InstanceStatus, NodeStatus, Object, RawObject};

/// A list response: the items and the store revision they were read at
/// (start a watch from it to follow changes). A paged list (`?limit=N`)
/// answers `continue` while more follow: pass it back as `?continue=` for
/// the next page; every page answers the first page's revision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct List<T> {
    pub items: Vec<T>,
    pub revision: u64,
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

impl<T> List<T> {
    /// A whole (unpaged) list.
    pub fn whole(items: Vec<T>, revision: u64) -> Self {
        List {
            items,
            revision,
            continue_token: None,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    /// The field at fault, when one is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// One change, as streamed by watch endpoints (one JSON object per line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatchEvent<T = RawObject> {
    #[serde(rename = "type")]
    pub event_type: WatchEventType,
    pub object: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchEventType {
    Created,
    Updated,
    Deleted,
    /// Sent periodically with no object change, so clients know the stream is alive
    /// and which revision it reached (`object.meta.revision`).
    Bookmark,
    /// The watch cannot continue (history compacted or the watcher fell
    /// behind): list again and watch from the new revision.
    Expired,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    pub scale: u32,
}

/// What an agent sends when it joins: its labels and what it found on the host.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub status: NodeStatus,
}

/// The server's answer to a join or heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeAck {
    pub node: Object<corral_types::NodeSpec, NodeStatus>,
    /// Seconds between heartbeats the server expects.
    pub heartbeat_interval_s: u64,
    /// The id of the server's installation: agents name the devices,
    /// chains and engine networks they make on their host after it, so
    /// two installations on one host never share one. Empty from a server
    /// that predates it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
}

/// Query of logs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    pub follow: bool,
    #[serde(default)]
    pub tail: Option<u64>,
}

/// Header an agent's endpoint requires (the node's token).
pub const AUTHORIZATION: &str = "authorization";

/// `POST /v1/environments/{env}/stacks/{name}/deploy`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeployRequest {
    /// docker-compose.yml first, then rancher-compose.yml if any.
    pub files: Vec<corral_types::SourceFile>,
    /// `${VAR}` values.
    #[serde(default)]
    pub variables: std::collections::BTreeMap<String, String>,
    /// Plan only: change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Values of the stack's own secrets (`file:` or `environment:`), by
    /// their key in the compose file, base64; the client reads them.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub secrets: std::collections::BTreeMap<String, String>,
    /// Values of the stack's own configs declared with `file:` or
    /// `environment:`, by key, base64 (`content:` is in the file).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub configs: std::collections::BTreeMap<String, String>,
}

/// What a deploy does (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackPlan {
    pub stack: String,
    /// Service object names (`<stack>-<service>`).
    pub created: Vec<String>,
    pub changed: Vec<ServiceChange>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Where the instances of created services would go.
    pub placements: Vec<PlannedInstance>,
    pub volumes: Vec<String>,
    /// What happens to the stack's secrets (`create secret shop_db-password`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// What happens to the stack's configs (`create config shop_nginx.conf`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configs: Vec<String>,
    pub warnings: Vec<String>,
    /// False for a dry run.
    pub applied: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceChange {
    pub service: String,
    /// Top-level spec fields that differ (`image`, `scale`, ...).
    pub fields: Vec<String>,
    /// True when the launch config changed, so instances are replaced by a rolling upgrade.
    pub upgrade: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedInstance {
    pub instance: String,
    /// Empty when it could not be placed now.
    pub node: String,
    pub reason: String,
}

/// The most reports one `POST .../nodes/{node}/statuses` may carry.
pub const MAX_STATUS_BATCH: usize = 1000;

/// `POST /v1/environments/{env}/nodes/{node}/statuses`: an agent reports the
/// status of several of its instances in one request (one store transaction).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBatch {
    /// At most [`MAX_STATUS_BATCH`]; empty is allowed (nothing changes).
    /// An instance named twice gets the last of its reports.
    pub statuses: Vec<StatusReport>,
}

/// The new status of one instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReport {
    /// The instance's name.
    pub instance: String,
    /// When set, the report applies only to the instance with this uid: a
    /// report about an instance that was deleted meanwhile must not land on
    /// a new one of the same name. A mismatch is answered as `not-found`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    pub status: InstanceStatus,
}

/// The answer to a [`StatusBatch`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatusBatchResult {
    /// Every instance whose report was taken, as stored after the batch, in
    /// the order of the request (an instance whose status was already the
    /// reported one is listed too, though nothing was written for it).
    pub instances: Vec<Instance>,
    /// The reports that were not taken, one per instance.
    pub errors: Vec<StatusReportError>,
}

/// Why the report about one instance was not taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusReportError {
    pub instance: String,
    pub code: StatusErrorCode,
    /// For people: what is wrong.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusErrorCode {
    /// No such instance (or not the one with the reported uid): it was
    /// deleted; there is nothing to report on any more.
    NotFound,
    /// The instance is placed on another node; only that node's agent reports on it.
    WrongNode,
    /// A code this client does not know (sent by a newer server).
    #[serde(other)]
    Other,
}
