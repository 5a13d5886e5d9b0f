//! A one-node cluster for integration tests: the real server (SQLite in a
//! temp dir) and the real agent driving the project's private Docker Engine.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_agent::{AgentOptions, run_agent};
use corral_api::Client;
use corral_engine::DockerEngine;
use corral_server::{RunningServer, ServerOptions, start};
use corral_types::{Instance, InstanceState, Kind, Object, PortSpec, ServiceSpec};
use tokio::sync::watch;

pub const WHOAMI: &str = corral_testing::WHOAMI_IMAGE;
pub const BUSYBOX: &str = corral_testing::BUSYBOX_IMAGE;

pub struct Cluster {
    pub server: Option<RunningServer>,
    pub client: Client,
    pub docker_host: String,
    pub node: String,
    pub data_dir: PathBuf,
    agent: Option<(
        watch::Sender<bool>,
        tokio::task::JoinHandle<anyhow::Result<()>>,
    )>,
    /// Changes to the options of the server and the agent, at every boot.
    tweak: Tweak,
    _tmp: Arc<tempfile::TempDir>,
    _cleanup: Cleanup,
}

type Tweak = Arc<dyn Fn(&mut ServerOptions, &mut AgentOptions) + Send + Sync>;

/// Removes every container of the node, and the secrets its agent kept on
/// the tmpfs (`/dev/shm/corral-secrets-<cluster>-<env>-<node>`), even when
/// a test fails. The cluster id is known once the server started (a killed
/// run's directory cannot be told from another workspace's, so it stays).
struct Cleanup {
    docker_host: String,
    node: String,
    cluster: Arc<std::sync::Mutex<String>>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let ids = docker_ids(
            &self.docker_host,
            &format!("label=io.corral.node={}", self.node),
        );
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .args(["-H", &self.docker_host, "rm", "-f"])
                .args(&ids)
                .output();
        }
        let cluster = self
            .cluster
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if !cluster.is_empty() {
            let secrets = format!("/dev/shm/corral-secrets-{cluster}-default-{}", self.node);
            let _ = std::fs::remove_dir_all(secrets);
        }
    }
}

fn docker_ids(host: &str, filter: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["-H", host, "ps", "-aq", "--no-trunc", "--filter", filter])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

impl Cluster {
    /// A fresh server and one agent named `node` on the private engine.
    pub async fn start(node: &str) -> Cluster {
        Cluster::start_with(node, |_, _| {}).await
    }

    /// [`Cluster::start`] with the server's and agent's options changed by
    /// `tweak` (at every boot).
    pub async fn start_with(
        node: &str,
        tweak: impl Fn(&mut ServerOptions, &mut AgentOptions) + Send + Sync + 'static,
    ) -> Cluster {
        let engine = tokio::task::spawn_blocking(|| {
            let engine = corral_testing::test_engine()?;
            corral_testing::ensure_images(&engine)?;
            anyhow::Ok(engine)
        })
        .await
        .unwrap()
        .expect("private docker engine");
        let tmp = Arc::new(tempfile::tempdir().unwrap());
        let data_dir = tmp.path().join("data");
        let cleanup = Cleanup {
            docker_host: engine.docker_host.clone(),
            node: node.to_string(),
            cluster: Arc::default(),
        };
        // A previous run that was killed may have left containers behind.
        drop(Cleanup {
            docker_host: engine.docker_host.clone(),
            node: node.to_string(),
            cluster: Arc::default(),
        });
        let mut cluster = Cluster {
            server: None,
            client: Client::with_trust("http://127.0.0.1:1", "x", Default::default()).unwrap(),
            docker_host: engine.docker_host.clone(),
            node: node.to_string(),
            data_dir,
            agent: None,
            tweak: Arc::new(tweak),
            _tmp: tmp,
            _cleanup: cleanup,
        };
        cluster.boot().await;
        cluster
    }

    async fn boot(&mut self) {
        let mut server_options = ServerOptions::new("127.0.0.1:0", &self.data_dir);
        let mut options = AgentOptions::new("", "", &self.node);
        (self.tweak)(&mut server_options, &mut options);
        let server = start(server_options).await.unwrap();
        self.client = Client::new(&server.url, &server.admin_token, &server.ca_pem).unwrap();
        *self._cleanup.cluster.lock().unwrap() = server.cluster_id.clone();
        let engine = DockerEngine::connect(Some(&self.docker_host))
            .await
            .unwrap();
        options.server_url = server.url.clone();
        options.token = server.admin_token.clone();
        options.ca_pem = Some(server.ca_pem.clone());
        options.listen = "127.0.0.1:0".into();
        // Tests share the machine's network namespace: the managed network
        // is tested on the multi-host test bed (testbed_*.rs).
        options.managed_network = false;
        let (stop, stopped) = watch::channel(false);
        let agent = tokio::spawn(run_agent(options, Arc::new(engine), stopped));
        self.server = Some(server);
        self.agent = Some((stop, agent));
        let client = self.client.clone();
        wait_for("the node to be active", Duration::from_secs(20), || {
            let client = client.clone();
            async move {
                let nodes = client.nodes("default").await.ok()?;
                nodes
                    .items
                    .iter()
                    .any(|n| n.status.state == corral_types::NodeState::Active)
                    .then_some(())
            }
        })
        .await;
    }

    /// Stops the agent and the server (containers keep running).
    pub async fn stop_processes(&mut self) {
        if let Some((stop, agent)) = self.agent.take() {
            let _ = stop.send(true);
            let _ = agent.await;
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Stops both processes and starts them again on the same data directory.
    pub async fn restart(&mut self) {
        self.stop_processes().await;
        self.boot().await;
    }

    pub fn url(&self) -> String {
        self.client.base_url().to_string()
    }

    pub fn token(&self) -> String {
        self.server
            .as_ref()
            .map(|s| s.admin_token.clone())
            .unwrap_or_default()
    }

    pub async fn create_service(
        &self,
        name: &str,
        image: &str,
        scale: u32,
        ports: &[&str],
        command: &[&str],
    ) {
        let spec = ServiceSpec {
            image: image.into(),
            scale,
            ports: ports
                .iter()
                .map(|p| p.parse::<PortSpec>().unwrap())
                .collect(),
            command: command.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        self.create_service_spec(name, spec).await;
    }

    pub async fn create_service_spec(&self, name: &str, spec: ServiceSpec) {
        let svc: corral_types::Service = Object::new(Kind::Service, "default", name, spec);
        self.client.create(&svc).await.unwrap();
    }

    pub async fn instances(&self, service: &str) -> Vec<Instance> {
        self.client
            .service_instances("default", service)
            .await
            .unwrap()
            .items
    }

    /// Waits until exactly `n` instances of `service` run, and returns them.
    pub async fn wait_running(&self, service: &str, n: usize) -> Vec<Instance> {
        let what = format!("{n} running instances of {service}");
        wait_for(&what, Duration::from_secs(60), || async move {
            let insts = self.instances(service).await;
            let running: Vec<Instance> = insts
                .iter()
                .filter(|i| i.status.state == InstanceState::Running && !i.spec.removing)
                .cloned()
                .collect();
            (running.len() == n && insts.len() == n).then_some(running)
        })
        .await
    }

    /// Ids of the containers of `service` on the engine, running or not.
    pub fn containers(&self, service: &str) -> Vec<String> {
        let mut ids = docker_ids(
            &self.docker_host,
            &format!("label=io.corral.service={service}"),
        );
        ids.sort();
        ids
    }

    pub fn running_containers(&self, service: &str) -> Vec<String> {
        let out = Command::new("docker")
            .args(["-H", &self.docker_host, "ps", "-q", "--no-trunc"])
            .args(["--filter", &format!("label=io.corral.service={service}")])
            .output()
            .unwrap();
        let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        ids.sort();
        ids
    }

    pub fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .args(["-H", &self.docker_host])
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs the real `corral` binary as a client of this cluster.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.cli_env(args, &[])
    }

    /// Runs the real `corral` binary with extra environment variables.
    pub fn cli_env(&self, args: &[&str], vars: &[(&str, &str)]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(args)
            .env("CORRAL_URL", self.url())
            .env("CORRAL_TOKEN", self.token())
            .env("CORRAL_CA_FILE", self.data_dir.join("ca.pem"))
            .env("XDG_CONFIG_HOME", self._tmp.path().join("config"))
            .envs(vars.iter().copied())
            .output()
            .unwrap()
    }

    /// Container ids on the engine matching a `docker ps` filter.
    pub fn docker_ids(&self, filter: &str) -> Vec<String> {
        docker_ids(&self.docker_host, filter)
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// GET http://127.0.0.1:PORT/PATH, retried briefly while the container starts.
pub async fn http_get(port: u16, path: &str) -> String {
    let url = format!("http://127.0.0.1:{port}{path}");
    wait_for(
        &format!("an answer from {url}"),
        Duration::from_secs(20),
        || {
            let url = url.clone();
            async move {
                let resp = reqwest::get(&url).await.ok()?;
                resp.status().is_success().then_some(())?;
                resp.text().await.ok()
            }
        },
    )
    .await
}
pub mod probe;
pub mod testbed;
