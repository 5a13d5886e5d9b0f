//! An in-memory [`ContainerEngine`] that records every call, for unit tests
//! and for the scale benchmark (thousands of simulated nodes in one
//! process). It keeps little per engine: no event channel exists until
//! someone subscribes, and recording can be turned off.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::fake_clock::now_rfc3339;
use crate::fake_events::{die_event, event, follow, next_id};
use crate::fake_network::FakeNetworks;
use crate::{
    ContainerConfig, ContainerEngine, ContainerEvent, ContainerState, ContainerSummary,
    EngineError, EngineInfo, EventStream, ExecResult, ExecSession, ExecSpec, LogOptions, LogStream,
    NetworkConfig, NetworkInfo,
};

/// Slots of the event channel, per engine, once someone subscribes.
const SIGNAL_CAPACITY: usize = 256;

/// One call made to a [`FakeEngine`], in the order made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeCall {
    Info,
    List {
        label_key: String,
    },
    Create {
        name: String,
        image: String,
    },
    Start {
        id: String,
    },
    Stop {
        id: String,
    },
    Remove {
        id: String,
    },
    Inspect {
        id: String,
    },
    CreateVolume {
        name: String,
    },
    Exec {
        id: String,
        cmd: Vec<String>,
    },
    ExecResize {
        exec_id: String,
        cols: u16,
        rows: u16,
    },
    Events,
    Logs {
        id: String,
    },
}

/// An operation [`FakeEngine::fail_next`] can make fail once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FakeOperation {
    Info,
    List,
    Create,
    Start,
    Stop,
    Remove,
    Inspect,
    CreateVolume,
    Exec,
}

impl FakeOperation {
    fn name(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::List => "list containers",
            Self::Create => "create container",
            Self::Start => "start container",
            Self::Stop => "stop container",
            Self::Remove => "remove container",
            Self::Inspect => "inspect container",
            Self::CreateVolume => "create volume",
            Self::Exec => "exec",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FakeContainer {
    seq: u64,
    pub(crate) id: String,
    pub(crate) config: ContainerConfig,
    /// `config.labels`, shared with every summary of it.
    labels: Arc<BTreeMap<String, String>>,
    /// Its address on `config.network`, given at creation.
    network_ip: String,
    /// `10.0.x.y` from its sequence number: its address on the default
    /// network, formatted once (not on every `list`).
    default_ip: String,
    state: ContainerState,
    started_at: String,
    /// One entry per line, as [`FakeEngine::push_log`] added them.
    logs: Vec<Bytes>,
}

impl FakeContainer {
    fn summary(&self) -> ContainerSummary {
        ContainerSummary {
            id: self.id.clone(),
            name: self.config.name.clone(),
            labels: Arc::clone(&self.labels),
            state: self.state,
            started_at: self.started_at.clone(),
            ip: self.ip(),
        }
    }

    /// Its network's address, or its default one, while it runs.
    fn ip(&self) -> String {
        if self.state != ContainerState::Running || !self.config.network_mode.is_empty() {
            return String::new();
        }
        if !self.network_ip.is_empty() {
            return self.network_ip.clone();
        }
        self.default_ip.clone()
    }
}

/// What goes through the internal channel: events for `events()`, log
/// lines for followed logs.
#[derive(Debug, Clone)]
pub(crate) enum Signal {
    Event(ContainerEvent),
    Log { id: String, line: Bytes },
}

#[derive(Debug)]
struct Inner {
    info: EngineInfo,
    containers: HashMap<String, FakeContainer>,
    missing_images: HashSet<String>,
    failures: HashSet<FakeOperation>,
    recording: bool,
    calls: Vec<FakeCall>,
    volumes: BTreeMap<String, BTreeMap<String, String>>,
    /// What `exec` returns, by container id; exit code 0 otherwise.
    exec_results: HashMap<String, ExecResult>,
    signals: Option<broadcast::Sender<Signal>>,
    networks: FakeNetworks,
    /// The exit code of each attached exec, by exec id.
    attached_exits: HashMap<String, i64>,
}

/// An in-memory container engine; see the module docs.
#[derive(Debug)]
pub struct FakeEngine {
    inner: Mutex<Inner>,
}

impl Default for FakeEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl FakeEngine {
    pub fn new() -> Self {
        let info = EngineInfo {
            hostname: "fake-node".to_owned(),
            cpu_millis: 4000,
            memory_bytes: 8 << 30,
            version: "fake".to_owned(),
        };
        Self {
            inner: Mutex::new(Inner {
                info,
                containers: HashMap::new(),
                missing_images: HashSet::new(),
                failures: HashSet::new(),
                recording: true,
                calls: Vec::new(),
                volumes: BTreeMap::new(),
                exec_results: HashMap::new(),
                signals: None,
                networks: FakeNetworks::default(),
                attached_exits: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<FakeCall> {
        self.lock().calls.clone()
    }

    /// The calls made so far, forgetting them.
    pub fn take_calls(&self) -> Vec<FakeCall> {
        std::mem::take(&mut self.lock().calls)
    }

    /// Turns call recording on or off (off for long benchmarks).
    pub fn set_recording(&self, recording: bool) {
        self.lock().recording = recording;
    }

    pub fn set_info(&self, info: EngineInfo) {
        self.lock().info = info;
    }

    /// Makes `create` of `image` fail with [`EngineError::ImageNotFound`].
    pub fn set_image_missing(&self, image: &str) {
        self.lock().missing_images.insert(image.to_owned());
    }

    /// Makes the next call of `operation` fail with [`EngineError::Api`].
    pub fn fail_next(&self, operation: FakeOperation) {
        self.lock().failures.insert(operation);
    }

    /// Simulates a container dying on its own: `Exited(exit_code)` and a `die` event.
    pub fn kill(&self, id: &str, exit_code: i64) {
        let mut inner = self.lock();
        let Some(key) = inner.resolve(id) else { return };
        let Some(container) = inner.containers.get_mut(&key) else {
            return;
        };
        if container.state == ContainerState::Running {
            container.state = ContainerState::Exited(exit_code);
            let event = die_event(container, exit_code);
            inner.emit(event);
        }
    }

    /// Simulates someone removing a container behind our back: it is gone,
    /// with a `die` event first if it ran, then a `destroy` event.
    pub fn remove_behind_our_back(&self, id: &str) {
        let mut inner = self.lock();
        inner.destroy(id, 137);
    }

    /// Appends one line to a container's logs (followers see it at once).
    pub fn push_log(&self, id: &str, line: impl Into<Bytes>) {
        let mut inner = self.lock();
        let Some(key) = inner.resolve(id) else { return };
        let line = line.into();
        if let Some(container) = inner.containers.get_mut(&key) {
            container.logs.push(line.clone());
            inner.send(Signal::Log { id: key, line });
        }
    }

    /// The configuration a container was created with.
    pub fn config_of(&self, id: &str) -> Option<ContainerConfig> {
        let inner = self.lock();
        let key = inner.resolve(id)?;
        inner.containers.get(&key).map(|c| c.config.clone())
    }

    /// The volumes created so far, with their labels.
    pub fn volumes(&self) -> BTreeMap<String, BTreeMap<String, String>> {
        self.lock().volumes.clone()
    }

    /// Makes `exec` in container `id` (an id or a name) return `result`.
    pub fn set_exec_result(&self, id: &str, result: ExecResult) {
        let mut inner = self.lock();
        let key = inner.resolve(id).unwrap_or_else(|| id.to_owned());
        inner.exec_results.insert(key, result);
    }

    /// How many containers exist, in any state.
    pub fn container_count(&self) -> usize {
        self.lock().containers.len()
    }

    /// How many containers run.
    pub fn running_count(&self) -> usize {
        let inner = self.lock();
        inner
            .containers
            .values()
            .filter(|c| c.state == ContainerState::Running)
            .count()
    }

    /// Records `call` and consumes an injected failure of `operation`.
    fn enter(
        &self,
        call: FakeCall,
        operation: Option<FakeOperation>,
    ) -> Result<MutexGuard<'_, Inner>, EngineError> {
        let mut inner = self.lock();
        if inner.recording {
            inner.calls.push(call);
        }
        if let Some(op) = operation
            && inner.failures.remove(&op)
        {
            return Err(EngineError::Api {
                operation: op.name(),
                message: "injected failure".to_owned(),
            });
        }
        Ok(inner)
    }
}

impl Inner {
    /// The id of the container called `id_or_name`.
    fn resolve(&self, id_or_name: &str) -> Option<String> {
        if self.containers.contains_key(id_or_name) {
            return Some(id_or_name.to_owned());
        }
        self.containers
            .values()
            .find(|c| c.config.name == id_or_name)
            .map(|c| c.id.clone())
    }

    fn send(&mut self, signal: Signal) {
        if let Some(sender) = &self.signals
            && sender.send(signal).is_err()
        {
            // Nobody listens any more: drop the channel's buffer.
            self.signals = None;
        }
    }

    fn emit(&mut self, event: ContainerEvent) {
        self.send(Signal::Event(event));
    }

    fn subscribe(&mut self) -> broadcast::Receiver<Signal> {
        match &self.signals {
            Some(sender) => sender.subscribe(),
            None => {
                let (sender, receiver) = broadcast::channel(SIGNAL_CAPACITY);
                self.signals = Some(sender);
                receiver
            }
        }
    }

    /// Removes a container, with `die` (if it ran) and `destroy` events.
    fn destroy(&mut self, id: &str, exit_code: i64) {
        let Some(key) = self.resolve(id) else { return };
        let Some(container) = self.containers.remove(&key) else {
            return;
        };
        if container.state == ContainerState::Running {
            self.emit(die_event(&container, exit_code));
        }
        self.emit(event(&container, "destroy"));
    }
}

#[async_trait::async_trait]
impl ContainerEngine for FakeEngine {
    async fn info(&self) -> Result<EngineInfo, EngineError> {
        let inner = self.enter(FakeCall::Info, Some(FakeOperation::Info))?;
        Ok(inner.info.clone())
    }

    async fn list(&self, label_key: &str) -> Result<Vec<ContainerSummary>, EngineError> {
        let call = FakeCall::List {
            label_key: label_key.to_owned(),
        };
        let inner = self.enter(call, Some(FakeOperation::List))?;
        let mut found: Vec<&FakeContainer> = inner
            .containers
            .values()
            .filter(|c| c.config.labels.contains_key(label_key))
            .collect();
        found.sort_by_key(|c| c.seq);
        Ok(found.into_iter().map(FakeContainer::summary).collect())
    }

    async fn create(&self, config: &ContainerConfig) -> Result<String, EngineError> {
        let call = FakeCall::Create {
            name: config.name.clone(),
            image: config.image.clone(),
        };
        let mut inner = self.enter(call, Some(FakeOperation::Create))?;
        if inner.missing_images.contains(&config.image) {
            return Err(EngineError::ImageNotFound(config.image.clone()));
        }
        if !config.name.is_empty() && inner.resolve(&config.name).is_some() {
            return Err(EngineError::NameInUse(config.name.clone()));
        }
        let network_ip = match config.network.as_str() {
            "" => String::new(),
            net => inner.networks.address(net, &config.ip)?,
        };
        let (seq, id) = next_id();
        let mut config = config.clone();
        if config.name.is_empty() {
            config.name = format!("fake_{}", &id[..12]);
        }
        let container = FakeContainer {
            seq,
            id: id.clone(),
            labels: Arc::new(config.labels.clone()),
            config,
            network_ip,
            default_ip: format!("10.0.{}.{}", (seq >> 8) & 0xff, seq & 0xff),
            state: ContainerState::Created,
            started_at: String::new(),
            logs: Vec::new(),
        };
        inner.emit(event(&container, "create"));
        inner.containers.insert(id.clone(), container);
        Ok(id)
    }

    async fn start(&self, id: &str) -> Result<(), EngineError> {
        let call = FakeCall::Start { id: id.to_owned() };
        let mut inner = self.enter(call, Some(FakeOperation::Start))?;
        let key = inner
            .resolve(id)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        let Some(container) = inner.containers.get_mut(&key) else {
            return Err(EngineError::NotFound(id.to_owned()));
        };
        if container.state == ContainerState::Running {
            return Ok(());
        }
        container.state = ContainerState::Running;
        container.started_at = now_rfc3339();
        let event = event(container, "start");
        inner.emit(event);
        Ok(())
    }

    async fn stop(&self, id: &str, _grace_seconds: u32) -> Result<(), EngineError> {
        let call = FakeCall::Stop { id: id.to_owned() };
        let mut inner = self.enter(call, Some(FakeOperation::Stop))?;
        let key = inner
            .resolve(id)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        let Some(container) = inner.containers.get_mut(&key) else {
            return Err(EngineError::NotFound(id.to_owned()));
        };
        if container.state != ContainerState::Running {
            return Ok(());
        }
        // The fake's processes always honour SIGTERM and exit cleanly.
        container.state = ContainerState::Exited(0);
        let die = die_event(container, 0);
        let stop = event(container, "stop");
        inner.emit(die);
        inner.emit(stop);
        Ok(())
    }

    async fn remove(&self, id: &str) -> Result<(), EngineError> {
        let call = FakeCall::Remove { id: id.to_owned() };
        let mut inner = self.enter(call, Some(FakeOperation::Remove))?;
        if let Some(key) = inner.resolve(id) {
            inner.exec_results.remove(&key);
        }
        inner.destroy(id, 137);
        Ok(())
    }

    async fn inspect(&self, id: &str) -> Result<ContainerSummary, EngineError> {
        let call = FakeCall::Inspect { id: id.to_owned() };
        let inner = self.enter(call, Some(FakeOperation::Inspect))?;
        inner
            .resolve(id)
            .and_then(|key| inner.containers.get(&key))
            .map(FakeContainer::summary)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))
    }

    /// Fake containers have no processes.
    async fn pid(&self, id: &str) -> Result<Option<u32>, EngineError> {
        self.inspect(id).await.map(|_| None)
    }

    async fn create_volume(
        &self,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let call = FakeCall::CreateVolume {
            name: name.to_owned(),
        };
        let mut inner = self.enter(call, Some(FakeOperation::CreateVolume))?;
        inner
            .volumes
            .entry(name.to_owned())
            .or_insert_with(|| labels.clone());
        Ok(())
    }

    async fn exec(
        &self,
        id: &str,
        cmd: &[String],
        _timeout: Duration,
    ) -> Result<ExecResult, EngineError> {
        let call = FakeCall::Exec {
            id: id.to_owned(),
            cmd: cmd.to_vec(),
        };
        let inner = self.enter(call, Some(FakeOperation::Exec))?;
        let key = inner
            .resolve(id)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        let running = inner
            .containers
            .get(&key)
            .is_some_and(|c| c.state == ContainerState::Running);
        if !running {
            return Err(EngineError::Api {
                operation: "create exec",
                message: format!("container {id} is not running"),
            });
        }
        Ok(inner.exec_results.get(&key).cloned().unwrap_or(ExecResult {
            exit_code: 0,
            output: String::new(),
        }))
    }

    async fn exec_attach(&self, id: &str, spec: &ExecSpec) -> Result<ExecSession, EngineError> {
        let result = self.exec(id, &spec.cmd, Duration::ZERO).await?;
        let mut inner = self.lock();
        let exec_id = format!("fake-exec-{}", inner.attached_exits.len() + 1);
        inner
            .attached_exits
            .insert(exec_id.clone(), result.exit_code);
        Ok(crate::fake_exec::session(
            exec_id,
            result.output,
            spec.stdin,
        ))
    }

    async fn exec_resize(&self, exec_id: &str, cols: u16, rows: u16) -> Result<(), EngineError> {
        let call = FakeCall::ExecResize {
            exec_id: exec_id.to_owned(),
            cols,
            rows,
        };
        drop(self.enter(call, None)?);
        Ok(())
    }

    async fn exec_exit_code(&self, exec_id: &str) -> Result<Option<i64>, EngineError> {
        Ok(self.lock().attached_exits.get(exec_id).copied())
    }

    async fn create_network(&self, config: &NetworkConfig) -> Result<String, EngineError> {
        self.lock().networks.create(config)
    }

    async fn inspect_network(&self, name: &str) -> Result<NetworkInfo, EngineError> {
        self.lock().networks.inspect(name)
    }

    async fn list_networks(&self, label_key: &str) -> Result<Vec<NetworkInfo>, EngineError> {
        Ok(self.lock().networks.list(label_key))
    }

    async fn remove_network(&self, name: &str) -> Result<(), EngineError> {
        self.lock().networks.remove(name);
        Ok(())
    }

    async fn connect_network(&self, network: &str, id: &str, ip: &str) -> Result<(), EngineError> {
        let mut inner = self.lock();
        let address = inner.networks.address(network, ip)?;
        let key = inner
            .resolve(id)
            .ok_or_else(|| EngineError::NotFound(id.to_owned()))?;
        if let Some(c) = inner.containers.get_mut(&key) {
            c.network_ip = address;
        }
        Ok(())
    }

    fn events(&self) -> EventStream {
        let mut inner = self.lock();
        if inner.recording {
            inner.calls.push(FakeCall::Events);
        }
        let receiver = inner.subscribe();
        futures::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(Signal::Event(event)) => return Some((Ok(event), receiver)),
                    Ok(Signal::Log { .. }) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let error = EngineError::Api {
                            operation: "watch events",
                            message: format!("fell behind, {missed} events lost"),
                        };
                        return Some((Err(error), receiver));
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    fn logs(&self, id: &str, options: LogOptions) -> LogStream {
        let mut inner = self.lock();
        if inner.recording {
            inner.calls.push(FakeCall::Logs { id: id.to_owned() });
        }
        let Some(container) = inner.resolve(id).and_then(|k| inner.containers.get(&k)) else {
            let error = EngineError::NotFound(id.to_owned());
            return futures::stream::once(async move { Err(error) }).boxed();
        };
        let skip = options.tail.map_or(0, |n| {
            container
                .logs
                .len()
                .saturating_sub(usize::try_from(n).unwrap_or(usize::MAX))
        });
        let past: Vec<Result<Bytes, EngineError>> =
            container.logs[skip..].iter().cloned().map(Ok).collect();
        let key = container.id.clone();
        let running = container.state == ContainerState::Running;
        let past = futures::stream::iter(past);
        if !(options.follow && running) {
            return past.boxed();
        }
        let receiver = inner.subscribe();
        past.chain(follow(receiver, key)).boxed()
    }
}

#[cfg(test)]
#[path = "fake_tests.rs"]
mod tests;
