//! The container engine behind a small trait: [`DockerEngine`] drives a real
//! Docker Engine through its API (bollard); [`FakeEngine`] records calls and
//! keeps containers in memory, for unit tests and the scale benchmark.

mod docker;
mod fake;

use std::collections::BTreeMap;
use std::pin::Pin;

use futures::Stream;

pub use docker::DockerEngine;
pub use fake::{FakeCall, FakeEngine, FakeOperation};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot connect to the container engine at {address}: {message}")]
    Connect { address: String, message: String },
    #[error("container {0} not found")]
    NotFound(String),
    #[error("image {0} not found on this node (no registry can be reached; build or load it)")]
    ImageNotFound(String),
    #[error("container name {0} is already in use")]
    NameInUse(String),
    #[error("{operation} failed: {message}")]
    Api {
        operation: &'static str,
        message: String,
    },
}

/// The host facts an agent reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EngineInfo {
    pub hostname: String,
    /// Logical CPUs times 1000.
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PortProtocol {
    Tcp,
    Udp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortBinding {
    pub container_port: u16,
    /// 0: exposed but not published.
    pub host_port: u16,
    pub protocol: PortProtocol,
}

/// Everything needed to create one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    pub name: String,
    pub image: String,
    /// Docker's `Cmd`; empty keeps the image's default.
    pub command: Vec<String>,
    /// `K=V` strings.
    pub env: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PortBinding>,
    /// 0 = no limit.
    pub memory_bytes: u64,
    /// Nano CPUs (1e9 = one CPU); 0 = no limit.
    pub nano_cpus: u64,
    /// Run the engine's init as PID 1 (signal forwarding, zombie reaping).
    pub init: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Created,
    Running,
    /// Stopped with an exit code.
    Exited(i64),
    /// Restarting, paused, being removed, or dead: not running.
    Other,
}

/// What the engine says of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSummary {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub state: ContainerState,
    /// RFC 3339 start time, empty if never started.
    pub started_at: String,
}

/// A change the engine reports (`start`, `die`, `destroy`, ...), by container id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerEvent {
    pub container_id: String,
    /// The verb only: `exec_start: sh` becomes `exec_start`.
    pub action: String,
    /// Docker's actor attributes: the container's labels plus `name`,
    /// `image`, and `exitCode` on `die`.
    pub labels: BTreeMap<String, String>,
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<ContainerEvent, EngineError>> + Send>>;
pub type LogStream = Pin<Box<dyn Stream<Item = Result<bytes::Bytes, EngineError>> + Send>>;

/// Options for [`ContainerEngine::logs`].
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    pub follow: bool,
    /// Only the last N lines; `None` for all.
    pub tail: Option<u64>,
}

/// The operations the agent needs from a container engine.
#[async_trait::async_trait]
pub trait ContainerEngine: Send + Sync + 'static {
    async fn info(&self) -> Result<EngineInfo, EngineError>;

    /// Containers carrying label `label_key` (any value), running or not.
    async fn list(&self, label_key: &str) -> Result<Vec<ContainerSummary>, EngineError>;

    /// Creates (does not start) a container; returns its id.
    async fn create(&self, config: &ContainerConfig) -> Result<String, EngineError>;

    async fn start(&self, id: &str) -> Result<(), EngineError>;

    /// Stops with a grace period, then kills. Stopping a stopped container is not an error.
    async fn stop(&self, id: &str, grace_seconds: u32) -> Result<(), EngineError>;

    /// Removes forcibly. Removing a missing container is not an error.
    async fn remove(&self, id: &str) -> Result<(), EngineError>;

    async fn inspect(&self, id: &str) -> Result<ContainerSummary, EngineError>;

    /// Container events (start, die, destroy, ...) from now on.
    fn events(&self) -> EventStream;

    /// Stdout and stderr, interleaved as the engine returns them.
    fn logs(&self, id: &str, options: LogOptions) -> LogStream;
}
