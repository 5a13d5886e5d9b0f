//! [`ContainerEngine`] over a real Docker Engine, through bollard.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, EndpointSettings, EventMessage,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StartContainerOptions, StopContainerOptionsBuilder,
};
use futures::{StreamExt, TryStreamExt};

use crate::docker_body::create_body;
use crate::docker_network;
use crate::{
    ContainerConfig, ContainerEngine, ContainerEvent, ContainerState, ContainerSummary,
    EXEC_OUTPUT_LIMIT, EngineError, EngineInfo, EventStream, ExecResult, ExecSession, ExecSpec,
    LogOptions, LogStream, NetworkConfig, NetworkInfo,
};

/// Seconds bollard waits for the response headers of one request. Long enough
/// for a stop with a generous grace period; streams (logs, events) are not
/// limited by it once their headers arrived.
const REQUEST_TIMEOUT_SECS: u64 = 330;

/// A Docker Engine reached over its API.
#[derive(Debug, Clone)]
pub struct DockerEngine {
    docker: Docker,
    docker_host: String,
}

impl DockerEngine {
    /// Connects to `docker_host` (`unix:///path`, a bare socket path, or
    /// `tcp://host:port`), else to `DOCKER_HOST`, else to the local default
    /// socket, and negotiates the API version with the engine.
    pub async fn connect(docker_host: Option<&str>) -> Result<Self, EngineError> {
        let from_env = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty());
        let address = docker_host
            .map(str::to_owned)
            .or(from_env)
            .unwrap_or_else(|| "unix:///var/run/docker.sock".to_owned());
        let connect_error = |message: String| EngineError::Connect {
            address: address.clone(),
            message,
        };
        let docker = if let Some(path) = unix_path(&address) {
            Docker::connect_with_unix(path, REQUEST_TIMEOUT_SECS, bollard::API_DEFAULT_VERSION)
        } else if docker_host.is_none() && std::env::var_os("DOCKER_HOST").is_none() {
            Docker::connect_with_local_defaults()
        } else {
            Docker::connect_with_host(&address)
        }
        .map_err(|e| connect_error(e.to_string()))?;
        let docker = docker
            .negotiate_version()
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        Ok(Self {
            docker,
            docker_host: address,
        })
    }

    /// The address this engine was reached at, for messages.
    pub fn docker_host(&self) -> &str {
        &self.docker_host
    }

    /// The underlying bollard client, for operations the trait does not cover.
    pub fn client(&self) -> &Docker {
        &self.docker
    }
}

impl DockerEngine {
    /// Runs `cmd` in container `id`, collects its output, and returns its exit code.
    async fn exec_to_end(&self, id: &str, cmd: &[String]) -> Result<ExecResult, EngineError> {
        let options = CreateExecOptions {
            cmd: Some(cmd.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = self
            .docker
            .create_exec(id, options)
            .await
            .map_err(|e| container_error("create exec", id, e))?;
        let started = self
            .docker
            .start_exec(&created.id, None)
            .await
            .map_err(|e| container_error("start exec", id, e))?;
        let mut output = Vec::new();
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = started
        {
            while let Some(item) = stream.next().await {
                let chunk = log_bytes(item.map_err(|e| api_error("read exec output", e))?);
                let room = EXEC_OUTPUT_LIMIT.saturating_sub(output.len());
                output.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
        }
        let inspected = self
            .docker
            .inspect_exec(&created.id)
            .await
            .map_err(|e| api_error("inspect exec", e))?;
        Ok(ExecResult {
            exit_code: inspected.exit_code.unwrap_or(-1),
            output: String::from_utf8_lossy(&output).into_owned(),
        })
    }
}

impl fmt::Display for DockerEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "docker engine at {}", self.docker_host)
    }
}

fn unix_path(address: &str) -> Option<&str> {
    if let Some(path) = address.strip_prefix("unix://") {
        Some(path)
    } else if address.starts_with('/') {
        Some(address)
    } else {
        None
    }
}

fn status_of(error: &BollardError) -> Option<u16> {
    match error {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(crate) fn api_error(operation: &'static str, error: BollardError) -> EngineError {
    EngineError::Api {
        operation,
        message: error.to_string(),
    }
}

/// Maps a 404 to [`EngineError::NotFound`], anything else to [`EngineError::Api`].
pub(crate) fn container_error(
    operation: &'static str,
    id: &str,
    error: BollardError,
) -> EngineError {
    match status_of(&error) {
        Some(404) => EngineError::NotFound(id.to_owned()),
        _ => api_error(operation, error),
    }
}

/// A summary from a list entry; `None` for an entry without an id.
fn summary_from_list(c: bollard::models::ContainerSummary) -> Option<ContainerSummary> {
    let id = c.id?;
    let state = match c.state.map(|s| s.to_string()).as_deref() {
        Some("running") => ContainerState::Running,
        Some("created") => ContainerState::Created,
        Some("exited") => {
            ContainerState::Exited(exit_code_of(c.status.as_deref().unwrap_or_default()))
        }
        _ => ContainerState::Other,
    };
    let name = c
        .names
        .and_then(|n| n.into_iter().next())
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_owned();
    Some(ContainerSummary {
        id,
        name,
        labels: Arc::new(c.labels.unwrap_or_default().into_iter().collect()),
        state,
        started_at: String::new(),
        ip: c
            .network_settings
            .and_then(|n| n.networks)
            .map(|n| first_ip(&n))
            .unwrap_or_default(),
    })
}

/// The address on the first network (by name) that gives one.
fn first_ip(networks: &HashMap<String, EndpointSettings>) -> String {
    let mut names: Vec<&String> = networks.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|n| networks[n].ip_address.as_deref())
        .find(|ip| !ip.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// The code in a list status such as `Exited (137) 5 seconds ago`; -1 if absent.
fn exit_code_of(status: &str) -> i64 {
    status
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .and_then(|(code, _)| code.trim().parse().ok())
        .unwrap_or(-1)
}

fn summary_from_inspect(id: &str, response: ContainerInspectResponse) -> ContainerSummary {
    let state = response.state.unwrap_or_default();
    let container_state = match state.status {
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::EXITED) => {
            ContainerState::Exited(state.exit_code.unwrap_or_default())
        }
        _ => ContainerState::Other,
    };
    // Docker reports "0001-01-01T00:00:00Z" for a container never started.
    let started_at = state
        .started_at
        .filter(|s| !s.starts_with("0001-"))
        .unwrap_or_default();
    let labels = response
        .config
        .and_then(|c| c.labels)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let labels = Arc::new(labels);
    let name = response.name.unwrap_or_default();
    let ip = response
        .network_settings
        .and_then(|n| n.networks)
        .map(|n| first_ip(&n))
        .unwrap_or_default();
    ContainerSummary {
        id: response.id.unwrap_or_else(|| id.to_owned()),
        name: name.trim_start_matches('/').to_owned(),
        labels,
        state: container_state,
        started_at,
        ip,
    }
}

fn event_from_message(message: EventMessage) -> Option<ContainerEvent> {
    let actor = message.actor?;
    let container_id = actor.id?;
    let labels: BTreeMap<String, String> =
        actor.attributes.unwrap_or_default().into_iter().collect();
    Some(ContainerEvent {
        container_id,
        // "exec_start: sh -c ..." and the like: keep the verb only.
        action: message
            .action
            .unwrap_or_default()
            .split(':')
            .next()
            .unwrap_or_default()
            .to_owned(),
        labels,
    })
}

fn log_bytes(output: LogOutput) -> bytes::Bytes {
    match output {
        LogOutput::StdOut { message }
        | LogOutput::StdErr { message }
        | LogOutput::StdIn { message }
        | LogOutput::Console { message } => message,
    }
}

#[async_trait::async_trait]
impl ContainerEngine for DockerEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let info = self.docker.info().await.map_err(|e| api_error("info", e))?;
        let ncpu = u64::try_from(info.ncpu.unwrap_or_default()).unwrap_or_default();
        Ok(EngineInfo {
            hostname: info.name.unwrap_or_default(),
            cpu_millis: ncpu.saturating_mul(1000),
            memory_bytes: u64::try_from(info.mem_total.unwrap_or_default()).unwrap_or_default(),
            version: info.server_version.unwrap_or_default(),
        })
    }

    async fn list(&self, label_key: &str) -> Result<Vec<ContainerSummary>, EngineError> {
        let filters = HashMap::from([("label", vec![label_key])]);
        let options = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .docker
            .list_containers(Some(options))
            .await
            .map_err(|e| api_error("list containers", e))?;
        // One request for all: the state and exit code come from the list
        // itself (no inspect per container), the start time stays empty.
        Ok(listed.into_iter().filter_map(summary_from_list).collect())
    }

    async fn create(&self, config: &ContainerConfig) -> Result<String, EngineError> {
        let options = CreateContainerOptionsBuilder::default()
            .name(&config.name)
            .build();
        let response = self
            .docker
            .create_container(Some(options), create_body(config))
            .await
            .map_err(|e| match status_of(&e) {
                Some(404) => EngineError::ImageNotFound(config.image.clone()),
                Some(409) => EngineError::NameInUse(config.name.clone()),
                _ => api_error("create container", e),
            })?;
        Ok(response.id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        // bollard treats 304 (already started) as success.
        self.docker
            .start_container(id, None::<StartContainerOptions>)
            .await
            .map_err(|e| container_error("start container", id, e))
    }

    async fn stop(&self, id: &str, grace_seconds: u32) -> Result<(), EngineError> {
        let grace = i32::try_from(grace_seconds).unwrap_or(i32::MAX);
        let options = StopContainerOptionsBuilder::default().t(grace).build();
        // bollard treats 304 (already stopped) as success.
        self.docker
            .stop_container(id, Some(options))
            .await
            .map_err(|e| container_error("stop container", id, e))
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let options = RemoveContainerOptionsBuilder::default()
            .force(true)
            .v(true)
            .build();
        match self.docker.remove_container(id, Some(options)).await {
            Ok(()) => Ok(()),
            Err(e) if status_of(&e) == Some(404) => Ok(()),
            Err(e) => Err(api_error("remove container", e)),
        }
    }

    async fn inspect(&self, id: &str) -> Result<ContainerSummary, EngineError> {
        let response = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_error("inspect container", id, e))?;
        Ok(summary_from_inspect(id, response))
    }

    async fn pid(&self, id: &str) -> Result<Option<u32>, EngineError> {
        let response = self
            .docker
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| container_error("inspect container", id, e))?;
        let pid = response.state.and_then(|s| s.pid).unwrap_or(0);
        Ok(u32::try_from(pid).ok().filter(|p| *p > 0))
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let request = VolumeCreateRequest {
            name: Some(name.to_owned()),
            labels: Some(labels.clone().into_iter().collect()),
            ..Default::default()
        };
        // Docker answers 201 for an existing local volume too.
        self.docker
            .create_volume(request)
            .await
            .map(|_| ())
            .map_err(|e| api_error("create volume", e))
    }

    async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, EngineError> {
        tokio::time::timeout(timeout, self.exec_to_end(id, cmd))
            .await
            .map_err(|_| EngineError::ExecTimeout {
                id: id.to_owned(),
                timeout,
            })?
    }

    async fn exec_attach(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession, EngineError> {
        crate::docker_exec::attach(&self.docker, id, spec).await
    }

    async fn exec_resize(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), EngineError> {
        crate::docker_exec::resize(&self.docker, exec_id, cols, rows).await
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, EngineError> {
        crate::docker_exec::exit_code(&self.docker, exec_id).await
    }

    async fn create_network(&self, config: &NetworkConfig) -> Result<String, EngineError> {
        docker_network::create(&self.docker, config).await
    }

    async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, EngineError> {
        docker_network::inspect(&self.docker, name).await
    }

    async fn list_networks(&self, label_key: &str) -> Result<Vec<NetworkInfo>, EngineError> {
        docker_network::list(&self.docker, label_key).await
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        docker_network::remove(&self.docker, name).await
    }

    async fn connect_network(
        &self,
        network: &str,
        container_id: &str,
        ip: &str,
    ) -> Result<(), EngineError> {
        docker_network::connect(&self.docker, network, container_id, ip).await
    }

    fn events(&self) -> EventStream {
        let filters = HashMap::from([("type", vec!["container"])]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        self.docker
            .events(Some(options))
            .map_err(|e| api_error("watch events", e))
            .try_filter_map(|message| async move { Ok(event_from_message(message)) })
            .boxed()
    }

    fn logs(&self, id: &str, options: LogOptions) -> LogStream {
        let tail = options
            .tail
            .map_or_else(|| "all".to_owned(), |n| n.to_string());
        let query = LogsOptionsBuilder::default()
            .follow(options.follow)
            .stdout(true)
            .stderr(true)
            .tail(&tail)
            .build();
        let id = id.to_owned();
        self.docker
            .logs(&id, Some(query))
            .map(move |item| {
                item.map(log_bytes)
                    .map_err(|e| container_error("read logs", &id, e))
            })
            .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_action_keeps_only_the_verb() {
        let message = EventMessage {
            action: Some("exec_start: sh -c true".into()),
            actor: Some(bollard::models::EventActor {
                id: Some("abc".into()),
                attributes: Some(HashMap::from([("app".into(), "web".into())])),
            }),
            ..Default::default()
        };
        let event = event_from_message(message).unwrap();
        assert_eq!(event.action, "exec_start");
        assert_eq!(event.container_id, "abc");
        assert_eq!(event.labels["app"], "web");
    }

    #[test]
    fn unix_addresses_are_recognised() {
        assert_eq!(unix_path("unix:///tmp/d.sock"), Some("/tmp/d.sock"));
        assert_eq!(unix_path("/tmp/d.sock"), Some("/tmp/d.sock"));
        assert_eq!(unix_path("tcp://127.0.0.1:2375"), None);
    }
}
