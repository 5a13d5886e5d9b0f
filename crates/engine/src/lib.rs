//! The container engine behind a small trait: [`DockerEngine`] drives a real
//! Docker Engine through its API (bollard); [`FakeEngine`] records calls and
//! keeps containers in memory, for unit tests and the scale benchmark.

mod docker;
mod docker_body;
mod docker_exec;
mod docker_network;
mod exec;
mod fake;
mod fake_clock;
mod fake_events;
mod fake_exec;
mod fake_network;

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;

pub use docker::DockerEngine;
pub use exec::{ExecChunk, ExecInput, ExecOutput, ExecSession, ExecSpec};
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
    #[error("network {0} not found")]
    NetworkNotFound(String),
    #[error("command in container {id} did not finish within {timeout:?}")]
    ExecTimeout { id: String, timeout: Duration },
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MountKind {
    /// A named volume (`source`), or an anonymous one when `source` is empty.
    #[default]
    Volume,
    /// A host path (`source`).
    Bind,
    /// A tmpfs at `target`.
    Tmpfs,
}

/// One mount of a container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    pub source: String,
    pub target: String,
    pub read_only: bool,
}

/// A resource limit (`nofile`, `nproc`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ulimit {
    pub name: String,
    pub soft: i64,
    pub hard: i64,
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
    /// Docker's `Entrypoint`; `None` keeps the image's.
    pub entrypoint: Option<Vec<String>>,
    /// Empty strings keep the image's defaults.
    pub working_dir: String,
    pub user: String,
    pub hostname: String,
    pub mounts: Vec<Mount>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub ulimits: Vec<Ulimit>,
    /// Empty: the image's (SIGTERM by default).
    pub stop_signal: String,
    /// Seconds between the stop signal and a kill; `None`: the engine's default.
    pub stop_timeout_s: Option<u32>,
    /// `container:<id>` to join another container's network namespace;
    /// empty: the engine's default network.
    pub network_mode: String,
    /// Containers whose volumes this one mounts.
    pub volumes_from: Vec<String>,
    /// Docker's `PidMode`, `IpcMode` and `UTSMode` (`host`); empty: the
    /// engine's default (a namespace of the container's own).
    pub pid_mode: String,
    pub ipc_mode: String,
    pub uts_mode: String,
    /// The engine network to join (such as the environment's managed
    /// network `corral-<env>`); empty: `network_mode`, else the engine's default.
    pub network: String,
    /// A fixed IPv4 address on `network`; empty: the engine assigns one.
    pub ip: String,
    /// DNS servers of the container; empty: the engine's default.
    pub dns: Vec<String>,
}

/// A bridge network to create on the engine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkConfig {
    pub name: String,
    /// IPv4 CIDR of the network, such as `10.42.3.0/24`.
    pub subnet: String,
    /// The bridge's address; empty: the engine picks the first one.
    pub gateway: String,
    /// The bridge device's name (at most 15 bytes); empty: the engine's choice.
    pub bridge: String,
    /// 0: the engine's default.
    pub mtu: u32,
    /// Whether the engine masquerades traffic leaving the network.
    pub masquerade: bool,
    pub labels: BTreeMap<String, String>,
}

/// What the engine says of one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub subnet: String,
    pub gateway: String,
    /// The bridge device's name when it was given at creation.
    pub bridge: String,
    pub labels: BTreeMap<String, String>,
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
    /// Shared: a container's labels never change, and an agent lists every
    /// container on each pass.
    pub labels: Arc<BTreeMap<String, String>>,
    pub state: ContainerState,
    /// RFC 3339 start time, empty if never started.
    pub started_at: String,
    /// Its IP address on its network; empty when it has none (stopped, or
    /// sharing another container's namespace).
    pub ip: String,
}

/// What a command run inside a container did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub exit_code: i64,
    /// Stdout and stderr, interleaved, at most [`EXEC_OUTPUT_LIMIT`] bytes.
    pub output: String,
}

/// Bytes of output an [`ExecResult`] keeps.
pub const EXEC_OUTPUT_LIMIT: usize = 64 * 1024;

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

    /// The host's process id of a running container's main process
    /// (`None` when it does not run, or the engine's processes are not
    /// this host's), for reading its cgroup and network counters.
    async fn pid(&self, id: &str) -> Result<Option<u32>, EngineError>;

    /// Creates the named volume; one that exists already is fine.
    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError>;

    /// Runs `cmd` inside a running container and waits at most `timeout` for it.
    async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, EngineError>;

    /// Starts `spec.cmd` in running container `id` with its output (and
    /// stdin, when asked) attached, for a person at a terminal.
    async fn exec_attach(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession, EngineError>;

    /// Sets the terminal size of an exec started with a TTY.
    async fn exec_resize(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), EngineError>;

    /// The exit code of an exec whose output has ended; `None` while it runs.
    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, EngineError>;

    /// Creates a bridge network; returns its id. An existing name is
    /// [`EngineError::NameInUse`].
    async fn create_network(&self, config: &NetworkConfig) -> Result<String, EngineError>;

    /// The network called `name` (or with that id); [`EngineError::NetworkNotFound`] if none.
    async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, EngineError>;

    /// Networks carrying label `label_key` (any value).
    async fn list_networks(&self, label_key: &str) -> Result<Vec<NetworkInfo>, EngineError>;

    /// Removes a network; a missing one is not an error.
    async fn remove_network(&self, name: &str) -> Result<(), EngineError>;

    /// Attaches a container to a network, at a fixed address when `ip` is not empty.
    async fn connect_network(
        &self,
        network: &str,
        container_id: &str,
        ip: &str,
    ) -> Result<(), EngineError>;

    /// Container events (start, die, destroy, ...) from now on.
    fn events(&self) -> EventStream;

    /// Stdout and stderr, interleaved as the engine returns them.
    fn logs(&self, id: &str, options: LogOptions) -> LogStream;
}
