//! Simulated nodes: the real agent (`corral_agent::run_agent`), each with
//! its own API client and its own recording [`FakeEngine`], so that starting
//! a container costs nothing. All of them run as tasks of the caller's tokio
//! runtime. Shared with `corral/tests/scale_small.rs` through `#[path]`.

use std::sync::Arc;
use std::time::Duration;

use corral_agent::{AgentOptions, run_agent};
use corral_engine::{EngineInfo, FakeEngine};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::bench_scale_mix::{NODE_CPU_MILLIS, NODE_MEMORY_BYTES, node_labels, node_name};

/// Running simulated nodes; [`SimNodes::stop`] stops them (their agents).
pub struct SimNodes {
    url: String,
    token: String,
    ca_pem: String,
    stop: watch::Sender<bool>,
    stopped: watch::Receiver<bool>,
    agents: JoinSet<(usize, anyhow::Result<()>)>,
    /// By node index: the engine (kept when its agent dies) and what stops
    /// its agent (all of its tasks: the heartbeat loop too).
    engines: Vec<Arc<FakeEngine>>,
    kills: Vec<Option<watch::Sender<bool>>>,
}

impl SimNodes {
    /// Starts nodes `first..first + count` against the server at `url`,
    /// whose CA is `ca_pem`.
    pub fn start(url: &str, token: &str, ca_pem: &str, first: usize, count: usize) -> SimNodes {
        let (stop, stopped) = watch::channel(false);
        let mut nodes = SimNodes {
            url: url.to_string(),
            token: token.to_string(),
            ca_pem: ca_pem.to_string(),
            stop,
            stopped,
            agents: JoinSet::new(),
            engines: Vec::with_capacity(count),
            kills: Vec::with_capacity(count),
        };
        nodes.add(first, count);
        nodes
    }

    /// Starts nodes `first..first + count` more.
    pub fn add(&mut self, first: usize, count: usize) {
        for i in first..first + count {
            let name = node_name(i);
            let engine = Arc::new(FakeEngine::new());
            engine.set_recording(false);
            engine.set_info(EngineInfo {
                hostname: name.clone(),
                cpu_millis: NODE_CPU_MILLIS,
                memory_bytes: NODE_MEMORY_BYTES,
                version: "fake".to_string(),
            });
            if self.engines.len() <= i {
                // Nodes below `first` run elsewhere (another process):
                // empty engines stand in for them.
                self.engines
                    .resize_with(i + 1, || Arc::new(FakeEngine::new()));
                self.kills.resize_with(i + 1, || None);
            }
            self.engines[i] = engine;
            self.spawn_agent(i);
        }
    }

    fn spawn_agent(&mut self, i: usize) {
        let name = node_name(i);
        let mut options = AgentOptions::new(&self.url, &self.token, &name);
        options.ca_pem = (!self.ca_pem.is_empty()).then(|| self.ca_pem.clone());
        options.labels = node_labels(i);
        options.listen = "127.0.0.1:0".to_string();
        options.address = Some("127.0.0.1".to_string());
        // Simulated nodes: no kernel networking, no view of the environment.
        options.managed_network = false;
        options.env_view = false;
        options.stats_interval = None;
        let dyn_engine: Arc<dyn corral_engine::ContainerEngine> = self.engines[i].clone();
        // The agent stops when all stop or when this one is killed.
        let (kill, killed) = watch::channel(false);
        let (own_stop, own_stopped) = watch::channel(false);
        let mut all = self.stopped.clone();
        let mut killed_rx = killed;
        tokio::spawn(async move {
            tokio::select! {
                _ = all.wait_for(|s| *s) => {}
                _ = killed_rx.wait_for(|s| *s) => {}
            }
            let _ = own_stop.send(true);
        });
        self.agents
            .spawn(async move { (i, run_agent(options, dyn_engine, own_stopped).await) });
        self.kills[i] = Some(kill);
    }

    /// Stops the agents of nodes `first..first + count` at once: the server
    /// hears nothing more from them (an agent says no goodbye), as when a
    /// host loses power or its network. Their engines (and the containers
    /// on them) stay.
    pub fn kill(&mut self, first: usize, count: usize) {
        for i in first..(first + count).min(self.kills.len()) {
            if let Some(kill) = self.kills[i].take() {
                let _ = kill.send(true);
            }
        }
    }

    /// Starts the agents of nodes `first..first + count` again on their
    /// old engines, as after a reboot or a repaired link.
    pub fn revive(&mut self, first: usize, count: usize) {
        for i in first..(first + count).min(self.kills.len()) {
            if self.kills[i].is_none() {
                self.spawn_agent(i);
            }
        }
    }

    /// Containers on all the fake engines together, in any state.
    pub fn container_count(&self) -> usize {
        self.engines.iter().map(|e| e.container_count()).sum()
    }

    /// Containers running on all the fake engines together.
    pub fn running_containers(&self) -> usize {
        self.engines.iter().map(|e| e.running_count()).sum()
    }

    /// Agents that have already ended (an agent only ends on its own by
    /// an error, such as no free file descriptor for its endpoint).
    pub fn failed(&mut self) -> Vec<String> {
        let mut failed = Vec::new();
        while let Some(done) = self.agents.try_join_next() {
            match done {
                Ok((i, Err(e))) => failed.push(format!("{}: {e:#}", node_name(i))),
                // A killed node's agent ends on purpose.
                Ok((i, Ok(()))) if self.kills.get(i).is_some_and(Option::is_none) => {}
                Ok((i, Ok(()))) => failed.push(format!("{}: ended", node_name(i))),
                Err(e) => failed.push(format!("an agent task: {e}")),
            }
        }
        failed
    }

    /// Stops every agent and waits for them at most `timeout`; aborts the rest.
    pub async fn stop(mut self, timeout: Duration) {
        let _ = self.stop.send(true);
        let all = async { while self.agents.join_next().await.is_some() {} };
        if tokio::time::timeout(timeout, all).await.is_err() {
            self.agents.abort_all();
        }
    }
}
