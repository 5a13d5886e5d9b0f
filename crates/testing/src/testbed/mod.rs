//! A multi-host test bed on one machine: N hosts, each a network namespace
//! joined to a bridge, with its own Docker Engine and its own `corral
//! agent`, all joined to one `corral server` in the root namespace.
//! Killing a host and cutting its link are real faults. See
//! `docs/TESTBED.md`.
//!
//! ```text
//!  root namespace                          ctb-<tag>-h1 (netns)
//!  corral server 10.213.X.1:PORT           eth0 10.213.X.11  dockerd (172.31.1.1/24)
//!        |                                   |               corral agent --name h1
//!  bridge ctb-<tag> 10.213.X.1/24 --veth-----+
//!                                  --veth----- ctb-<tag>-h2 ... 10.213.X.12
//! ```
//!
//! Everything lives under one root directory (state file, logs, data
//! roots, sockets); the names of the bridge, the namespaces and the links
//! derive from its path, so [`Testbed::down`] in another process finds
//! them all, also after a half-failed [`Testbed::up`]. Synchronous; call
//! it from `spawn_blocking` in async code.

mod error;
mod hosts;
mod names;
mod net;
mod procs;
mod state;

use std::ffi::OsString;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub use error::TestbedError;
pub use names::{MAX_HOSTS, MAX_ROOT_LEN};

use crate::engine::{PrivateEngine, log_tail, ping};
use crate::paths::{fnv1a, workspace_root};
use error::Result;
use names::{Layout, Names, engine_bip};
use procs::{Identity, live_pid, run, spawn_detached, terminate};
use state::State;

const ENGINE_START_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(20);
const STOP_GRACE: Duration = Duration::from_secs(15);

/// The line `corral server` prints first.
const SERVER_LISTENING: &str = "corral server listening on ";

/// How to build a test bed.
#[derive(Debug, Clone)]
pub struct TestbedOptions {
    /// Number of hosts, 1 to [`MAX_HOSTS`].
    pub hosts: usize,
    /// The `corral` binary the server and the agents run.
    pub corral: PathBuf,
    /// An engine whose `corral-busybox` and `corral-whoami` images are
    /// copied to every host's engine (`docker save`, `docker load`); none
    /// when `None`.
    pub images_from: Option<PrivateEngine>,
}

/// One host of a test bed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// 1 to N.
    pub index: usize,
    /// Its node name, `h<index>`.
    pub name: String,
    /// Its network namespace, `ctb-<tag>-h<index>`.
    pub netns: String,
    /// The root-namespace end of its veth pair (its cable).
    pub veth: String,
    /// Its address on the bridge (its `eth0`), which its node reports.
    pub address: Ipv4Addr,
    /// `unix://<root>/h<index>/docker.sock`, its engine.
    pub docker_host: String,
}

impl Host {
    /// `docker -H <this host's engine>`.
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.arg("-H").arg(&self.docker_host);
        command
    }
}

/// What runs on one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostStatus {
    pub host: Host,
    /// Its engine answers `/_ping`.
    pub engine: bool,
    /// Its agent process is alive.
    pub agent: bool,
    /// Its link is up (`None`: the link is gone).
    pub link_up: Option<bool>,
}

/// A test bed that is up (or half up): a handle; dropping it changes nothing.
#[derive(Debug, Clone)]
pub struct Testbed {
    layout: Layout,
    names: Names,
    state: State,
}

/// `<workspace>/target/testbed/<name>`, or a short directory in /tmp when
/// that is too long for the unix sockets under it.
pub fn testbed_root(name: &str) -> PathBuf {
    let wanted = workspace_root().join("target/testbed").join(name);
    if wanted.as_os_str().len() <= MAX_ROOT_LEN {
        return wanted;
    }
    let hash = fnv1a(wanted.as_os_str().as_encoded_bytes()) & 0xffff_ffff;
    PathBuf::from(format!("/tmp/corral-testbed-{hash:08x}"))
}

/// The root of the test bed of `cargo xtask testbed`: `target/testbed/cluster`.
pub fn default_testbed_root() -> PathBuf {
    testbed_root("cluster")
}

impl Testbed {
    /// Builds a test bed under `root` and returns once every host's engine
    /// answers and its agent runs (the nodes may still be joining: poll the
    /// server's nodes for `active`). Fails with
    /// [`TestbedError::AlreadyUp`] if one is there: [`Testbed::down`]
    /// first. A failure leaves what was built for inspection (logs under
    /// `root`); [`Testbed::down`] removes it.
    pub fn up(root: &Path, options: &TestbedOptions) -> Result<Testbed> {
        let root = absolute_root(root)?;
        Self::build(&root, options).map_err(|source| TestbedError::Testbed {
            action: "bring up",
            root: root.clone(),
            source: Box::new(source),
        })
    }

    fn build(root: &Path, options: &TestbedOptions) -> Result<Testbed> {
        check_prerequisites()?;
        if options.hosts == 0 || options.hosts > MAX_HOSTS {
            return Err(TestbedError::InvalidHostCount {
                hosts: options.hosts,
                max: MAX_HOSTS,
            });
        }
        if Self::exists(root) {
            return Err(TestbedError::AlreadyUp {
                root: root.to_path_buf(),
            });
        }
        let layout = Layout {
            root: root.to_path_buf(),
        };
        let names = Names::for_root(root);
        std::fs::create_dir_all(root).map_err(|e| TestbedError::io("create", root, e))?;
        let mut state = {
            let _lock = net::lock()?;
            let state = State {
                hosts: options.hosts,
                subnet: net::choose_subnet(names.preferred_subnet())?,
                corral: options.corral.clone(),
                server_url: String::new(),
            };
            // Written before anything exists, so that `down` finds it all.
            state.write(&layout.state())?;
            net::create_bridge(&names.bridge(), state.subnet)?;
            state
        };
        net::allow_forwarding(&names.bridge())?;
        let daemon_json = layout.daemon_json();
        // An empty daemon config: no /etc/docker/daemon.json setting applies.
        std::fs::write(&daemon_json, "{}\n")
            .map_err(|e| TestbedError::io("write", &daemon_json, e))?;
        if let Some(source) = &options.images_from {
            save_images(source, &layout.images())?;
        }
        let mut testbed = Testbed {
            layout,
            names,
            state: state.clone(),
        };
        state.server_url = testbed.start_server()?;
        state.write(&testbed.layout.state())?;
        testbed.state = state;
        let with_images = options.images_from.is_some();
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (1..=options.hosts)
                .map(|host| {
                    let testbed = &testbed;
                    scope.spawn(move || {
                        testbed
                            .build_host(host, with_images)
                            .map_err(|e| e.on_host("build", host))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(TestbedError::NotReady {
                            what: "a host set-up thread".into(),
                            event: "finish (it panicked)",
                            seconds: 0,
                            log: PathBuf::new(),
                            tail: String::new(),
                        })
                    })
                })
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
        Ok(testbed)
    }

    fn build_host(&self, host: usize, with_images: bool) -> Result<()> {
        let dir = self.layout.host_dir(host);
        std::fs::create_dir_all(&dir).map_err(|e| TestbedError::io("create", &dir, e))?;
        net::create_host_net(&self.names, self.state.subnet, host)?;
        self.start_engine(host)?;
        if with_images {
            let images = self.layout.images();
            run(self
                .host_unchecked(host)
                .docker()
                .arg("load")
                .arg("-q")
                .arg("-i")
                .arg(&images))?;
        }
        self.start_agent(host)
    }

    /// The test bed at `root`, as `up` left it (maybe half built).
    pub fn open(root: &Path) -> Result<Testbed> {
        let root = absolute_root(root)?;
        let layout = Layout { root: root.clone() };
        let state =
            State::read(&layout.state())?.ok_or(TestbedError::NotUp { root: root.clone() })?;
        Ok(Testbed {
            names: Names::for_root(&root),
            layout,
            state,
        })
    }

    /// Whether anything of a test bed is at `root`: its state file, its
    /// bridge or one of its namespaces.
    pub fn exists(root: &Path) -> bool {
        let Ok(root) = absolute_root(root) else {
            return false;
        };
        let names = Names::for_root(&root);
        Layout { root }.state().exists()
            || net::link_exists(&names.bridge())
            || !net::existing_netns(&names).is_empty()
    }

    /// Removes everything of the test bed at `root`: agents, engines with
    /// their containers, the server, mounts, namespaces, links, the bridge,
    /// the iptables rule, and the files under `root` it made. Idempotent;
    /// it also cleans up after a half-failed `up` and goes on past a
    /// failed step (the error lists them all).
    pub fn down(root: &Path) -> Result<()> {
        let root = absolute_root(root)?;
        let names = Names::for_root(&root);
        let layout = Layout { root: root.clone() };
        let state = State::read(&layout.state()).ok().flatten();
        let mut failures: Vec<String> = Vec::new();
        let mut note = |result: Result<()>| {
            if let Err(e) = result {
                failures.push(e.chain());
            }
        };

        let hosts = hosts_present(&layout, &names, state.as_ref());
        // Without a state file the binary's name is most likely `corral`;
        // pids are still only signalled when their arguments name the root.
        let corral_name = state
            .as_ref()
            .map_or_else(|| "corral".to_string(), |s| program_name(&s.corral));
        let stopped: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = hosts
                .iter()
                .map(|&host| {
                    let (layout, names, corral) = (&layout, &names, corral_name.as_str());
                    scope.spawn(move || {
                        stop_host(layout, names, host, corral).map_err(|e| e.on_host("stop", host))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(TestbedError::WontDie {
                            what: "a host tear-down thread (it panicked)".into(),
                            pid: 0,
                        })
                    })
                })
                .collect()
        });
        stopped.into_iter().for_each(&mut note);
        let server_dir = layout.server_dir().to_string_lossy().into_owned();
        let server = Identity {
            program: &corral_name,
            marker: &server_dir,
        };
        if let Some(pid) = live_pid(&layout.server_pid(), server) {
            note(terminate(pid, "corral server", STOP_GRACE));
        }
        note(procs::unmount_all_under(&root));
        for &host in &hosts {
            procs::remove_container_cgroups(&layout.host_dir(host).join("data"));
        }
        for (_, netns) in net::existing_netns(&names) {
            note(net::delete_netns(&netns));
        }
        for (_, veth) in net::existing_veths(&names) {
            note(net::delete_link(&veth));
        }
        note(net::delete_link(&names.bridge()));
        if crate::cmd::exists("iptables") {
            note(net::disallow_forwarding(&names.bridge()));
        }
        note(remove_files(&layout, &hosts));
        if failures.is_empty() {
            Ok(())
        } else {
            Err(TestbedError::Teardown { failures })
        }
    }

    pub fn root(&self) -> &Path {
        &self.layout.root
    }

    /// Number of hosts.
    pub fn hosts(&self) -> usize {
        self.state.hosts
    }

    /// `https://10.213.X.1:PORT` (empty if `up` failed before the server answered).
    pub fn server_url(&self) -> &str {
        &self.state.server_url
    }

    /// The admin token of the server (`<root>/server/admin-token`).
    pub fn token(&self) -> Result<String> {
        let path = self.layout.server_dir().join("admin-token");
        std::fs::read_to_string(&path)
            .map(|t| t.trim().to_string())
            .map_err(|e| TestbedError::io("read the admin token", &path, e))
    }

    /// The server's CA (`<root>/server/ca.pem`), which clients pin.
    pub fn ca_pem(&self) -> Result<String> {
        let path = self.layout.server_dir().join("ca.pem");
        std::fs::read_to_string(&path)
            .map_err(|e| TestbedError::io("read the server's CA", &path, e))
    }

    /// The bridge's address, where the server listens.
    pub fn gateway(&self) -> Ipv4Addr {
        self.state.subnet.gateway()
    }

    /// The bridge in the root namespace.
    pub fn bridge(&self) -> String {
        self.names.bridge()
    }

    /// Host `index` (1 to N).
    pub fn host(&self, index: usize) -> Result<Host> {
        if index == 0 || index > self.state.hosts {
            return Err(TestbedError::NoSuchHost {
                host: index,
                hosts: self.state.hosts,
            });
        }
        Ok(self.host_unchecked(index))
    }

    fn host_unchecked(&self, index: usize) -> Host {
        Host {
            index,
            name: format!("h{index}"),
            netns: self.names.netns(index),
            veth: self.names.veth(index),
            address: self.state.subnet.host(index),
            docker_host: format!("unix://{}", self.layout.docker_socket(index).display()),
        }
    }

    /// Every host, 1 to N.
    pub fn all_hosts(&self) -> Vec<Host> {
        (1..=self.state.hosts)
            .map(|i| self.host_unchecked(i))
            .collect()
    }

    /// Whether the server process is alive.
    pub fn server_running(&self) -> bool {
        let program = program_name(&self.state.corral);
        let marker = self.layout.server_dir().to_string_lossy().into_owned();
        let identity = Identity {
            program: &program,
            marker: &marker,
        };
        live_pid(&self.layout.server_pid(), identity).is_some()
    }
}

fn program_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "corral".into())
}

/// `root` made absolute (names derive from it) and checked for length.
fn absolute_root(root: &Path) -> Result<PathBuf> {
    let absolute = if root.is_absolute() {
        root.to_path_buf()
    } else {
        let cwd = std::env::current_dir()
            .map_err(|e| TestbedError::io("find the current directory for", root, e))?;
        cwd.join(root)
    };
    let len = absolute.as_os_str().len();
    if len > MAX_ROOT_LEN {
        return Err(TestbedError::RootTooLong {
            root: absolute,
            len,
            max: MAX_ROOT_LEN,
        });
    }
    Ok(absolute)
}

fn check_prerequisites() -> Result<()> {
    let uid = run(Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        return Err(TestbedError::NotRoot);
    }
    for (program, package) in [
        ("ip", "iproute2"),
        ("nsenter", "util-linux"),
        ("setsid", "util-linux"),
        ("dockerd", "docker.io"),
        ("docker", "docker.io"),
        ("iptables", "iptables"),
    ] {
        if !crate::cmd::exists(program) {
            return Err(TestbedError::MissingProgram { program, package });
        }
    }
    Ok(())
}

/// `docker save` of the test images from `source` to `tar`.
fn save_images(source: &PrivateEngine, tar: &Path) -> Result<()> {
    run(source
        .docker()
        .arg("save")
        .arg("-o")
        .arg(tar)
        .args([crate::BUSYBOX_IMAGE, crate::WHOAMI_IMAGE]))?;
    Ok(())
}

/// The hosts `down` must look at: the state's, plus any namespace or host
/// directory left by a different or half-written state.
fn hosts_present(layout: &Layout, names: &Names, state: Option<&State>) -> Vec<usize> {
    let mut hosts: Vec<usize> = state.map(|s| (1..=s.hosts).collect()).unwrap_or_default();
    hosts.extend(net::existing_netns(names).into_iter().map(|(i, _)| i));
    if let Ok(entries) = std::fs::read_dir(&layout.root) {
        hosts.extend(entries.flatten().filter_map(|e| {
            let name = e.file_name();
            name.to_str()?.strip_prefix('h')?.parse::<usize>().ok()
        }));
    }
    hosts.sort_unstable();
    hosts.dedup();
    hosts.retain(|h| (1..=MAX_HOSTS).contains(h));
    hosts
}

/// Stops one host for good: its agent, its containers (removed through its
/// engine while it answers, so that the engine cleans up after them), its
/// engine, and then anything left in its namespace. A failed step does not
/// stop the next ones; the first failure is returned.
fn stop_host(layout: &Layout, names: &Names, host: usize, corral: &str) -> Result<()> {
    let socket = layout.docker_socket(host);
    let marker = socket.to_string_lossy().into_owned();
    let mut first_error: Option<TestbedError> = None;
    let mut keep = |result: Result<()>| {
        if let Err(e) = result {
            first_error.get_or_insert(e);
        }
    };
    let agent = Identity {
        program: corral,
        marker: &marker,
    };
    if let Some(pid) = live_pid(&layout.agent_pid(host), agent) {
        keep(terminate(pid, "corral agent", STOP_GRACE));
    }
    if ping(&socket) {
        keep(remove_all_containers(&format!("unix://{marker}")));
    }
    let dockerd = Identity {
        program: "dockerd",
        marker: &marker,
    };
    if let Some(pid) = live_pid(&layout.docker_pid(host), dockerd) {
        keep(terminate(pid, "dockerd", STOP_GRACE));
    }
    let netns = names.netns(host);
    if let Some(&pid) = procs::kill_netns(&netns).first() {
        return Err(TestbedError::WontDie {
            what: format!("a process in {netns}"),
            pid,
        });
    }
    first_error.map_or(Ok(()), Err)
}

/// `docker rm -f -v` of every container of the engine at `docker_host`.
fn remove_all_containers(docker_host: &str) -> Result<()> {
    let docker = || {
        let mut command = Command::new("docker");
        command.arg("-H").arg(docker_host);
        command
    };
    let ids = run(docker().args(["ps", "-aq"]))?;
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        run(docker().args(["rm", "-f", "-v"]).args(&ids))?;
    }
    Ok(())
}

/// Removes what the test bed wrote under its root, and the root if that
/// leaves it empty. Only known names: the root may be any directory.
fn remove_files(layout: &Layout, hosts: &[usize]) -> Result<()> {
    let mut dirs = vec![layout.server_dir()];
    dirs.extend(hosts.iter().map(|&h| layout.host_dir(h)));
    for dir in dirs {
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(TestbedError::io("remove", dir, e));
            }
            _ => {}
        }
    }
    for file in [
        layout.images(),
        layout.daemon_json(),
        layout.server_log(),
        layout.server_pid(),
        layout.state().with_extension("tmp"),
        // Last: while it exists, `down` knows what to look for.
        layout.state(),
    ] {
        procs::remove_if_present(&file)?;
    }
    // Not empty (someone else's files) or gone: both fine.
    let _ = std::fs::remove_dir(&layout.root);
    Ok(())
}
