//! A host's processes (its engine and agent), the server's, and the
//! faults: a killed host, a cut link.

use super::*;

impl Testbed {
    /// What runs on each host.
    pub fn status(&self) -> Vec<HostStatus> {
        self.all_hosts()
            .into_iter()
            .map(|host| HostStatus {
                engine: ping(&self.layout.docker_socket(host.index)),
                agent: self.agent_pid(host.index).is_some(),
                link_up: net::link_is_up(&host.veth),
                host,
            })
            .collect()
    }

    /// Kills host `index` like a crash: SIGKILL to every process in its
    /// namespace and their descendants, at once: its agent, its dockerd and
    /// containerd, the containerd shims, and the containers (which live in
    /// namespaces of their own but descend from the shims). Its link stays
    /// up, so the kernel still answers for its address (connections are
    /// refused); cut the link too for a machine that is powered off.
    pub fn kill_host(&self, index: usize) -> Result<()> {
        let host = self.host(index)?;
        let survivors = procs::kill_netns(&host.netns);
        match survivors.first() {
            None => Ok(()),
            Some(&pid) => Err(TestbedError::WontDie {
                what: format!("a process of host {}", host.name),
                pid,
            }
            .on_host("kill", index)),
        }
    }

    /// Starts host `index`'s engine and agent again after [`kill_host`]
    /// (whatever of them is not running); its containers are then
    /// `exited` and the agent replaces or restarts them.
    ///
    /// [`kill_host`]: Testbed::kill_host
    pub fn start_host(&self, index: usize) -> Result<()> {
        self.host(index)?;
        self.start_missing(index)
            .map_err(|e| e.on_host("start", index))
    }

    pub(super) fn start_missing(&self, index: usize) -> Result<()> {
        if !ping(&self.layout.docker_socket(index)) {
            self.start_engine(index)?;
        }
        if self.agent_pid(index).is_none() {
            self.start_agent(index)?;
        }
        Ok(())
    }

    /// Pulls host `index`'s cable: `ip link set <veth> down`. Its processes
    /// keep running but reach nothing and nothing reaches them.
    pub fn cut_link(&self, index: usize) -> Result<()> {
        let host = self.host(index)?;
        net::set_link(&host.veth, false).map_err(|e| e.on_host("cut the link of", index))
    }

    /// Plugs the cable back: `ip link set <veth> up`.
    pub fn restore_link(&self, index: usize) -> Result<()> {
        let host = self.host(index)?;
        net::set_link(&host.veth, true).map_err(|e| e.on_host("restore the link of", index))
    }

    pub(super) fn start_server(&self) -> Result<String> {
        let log = self.layout.server_log();
        let data_dir = self.layout.server_dir();
        let argv: Vec<OsString> = vec![
            self.state.corral.clone().into(),
            "server".into(),
            "--listen".into(),
            format!("{}:0", self.gateway()).into(),
            "--data-dir".into(),
            data_dir.into(),
        ];
        // A fresh log: the listening line is looked for in it.
        procs::remove_if_present(&log)?;
        spawn_detached(&argv, &[], &log, Some(&self.layout.server_pid()))?;
        let deadline = Instant::now() + SERVER_START_TIMEOUT;
        let not_ready = |event| TestbedError::NotReady {
            what: "corral server".into(),
            event,
            seconds: SERVER_START_TIMEOUT.as_secs(),
            log: log.clone(),
            tail: log_tail(&log, 30),
        };
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(url) = text
                .lines()
                .find_map(|line| line.strip_prefix(SERVER_LISTENING))
            {
                return Ok(url.trim().to_string());
            }
            // Between writing its pid file and `exec`, the process is still
            // `sh` (not yet `corral`): only a pid that is gone has exited.
            let pid_gone =
                procs::read_pid(&self.layout.server_pid()).is_none_or(|pid| !procs::is_alive(pid));
            if !self.server_running() && pid_gone {
                return Err(not_ready("start (it exited)"));
            }
            if Instant::now() > deadline {
                return Err(not_ready("listen"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts host `index`'s dockerd inside its namespace and waits until it
    /// answers.
    pub(super) fn start_engine(&self, index: usize) -> Result<()> {
        let host = self.host_unchecked(index);
        let dir = self.layout.host_dir(index);
        let log = self.layout.docker_log(index);
        // `nsenter --net`, not `ip netns exec`: that one remounts /sys and
        // hides the cgroup mounts ("Devices cgroup isn't mounted").
        let argv: Vec<OsString> = vec![
            "nsenter".into(),
            format!("--net=/var/run/netns/{}", host.netns).into(),
            "dockerd".into(),
            "--config-file".into(),
            self.layout.daemon_json().into(),
            "--host".into(),
            host.docker_host.clone().into(),
            "--data-root".into(),
            dir.join("data").into(),
            "--exec-root".into(),
            dir.join("exec").into(),
            "--pidfile".into(),
            self.layout.docker_pid(index).into(),
            "--bip".into(),
            engine_bip(index).into(),
            "--log-level".into(),
            "warn".into(),
        ];
        spawn_detached(&argv, &[], &log, None)?;
        let socket = self.layout.docker_socket(index);
        let deadline = Instant::now() + ENGINE_START_TIMEOUT;
        while !ping(&socket) {
            if Instant::now() > deadline {
                return Err(TestbedError::NotReady {
                    what: format!("the engine of host {}", host.name),
                    event: "answer",
                    seconds: ENGINE_START_TIMEOUT.as_secs(),
                    log: log.clone(),
                    tail: log_tail(&log, 30),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Restarts host `index`'s agent as a node of `environment` (which
    /// must exist) instead of `default`. Its node in the environment it
    /// left stays until removed; a later [`start_host`] starts the agent
    /// in `default` again.
    ///
    /// [`start_host`]: Testbed::start_host
    pub fn move_agent(&self, index: usize, environment: &str) -> Result<()> {
        self.host(index)?;
        if let Some(pid) = self.agent_pid(index) {
            terminate(pid, "agent", STOP_GRACE)
                .map_err(|e| e.on_host("stop the agent of", index))?;
        }
        self.spawn_agent(index, Some(environment))
            .map_err(|e| e.on_host("start the agent of", index))
    }

    /// Starts host `index`'s `corral agent` inside its namespace, so that the
    /// address it reports is the host's.
    pub(super) fn start_agent(&self, index: usize) -> Result<()> {
        self.spawn_agent(index, None)
    }

    /// A registration token of `environment`, made the way an operator
    /// makes one: `corral host add-command`, run with the admin token.
    /// A registration token of `environment` and the CA fingerprint the
    /// agent must check, from `corral host add-command`'s line.
    fn registration_token(&self, environment: &str) -> Result<(String, String)> {
        let admin = self.token()?;
        let mut command = std::process::Command::new(&self.state.corral);
        command
            .args(["-E", environment, "host", "add-command", "--ttl", "1h"])
            .env("CORRAL_URL", &self.state.server_url)
            .env("CORRAL_TOKEN", admin)
            .env("CORRAL_CA_FILE", self.layout.server_dir().join("ca.pem"))
            .stdin(std::process::Stdio::null());
        let described = format!(
            "{} -E {environment} host add-command",
            self.state.corral.display()
        );
        let out = command.output().map_err(|source| TestbedError::Spawn {
            command: described.clone(),
            source,
        })?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let after = |flag: &str| {
            stdout
                .split_whitespace()
                .skip_while(|w| *w != flag)
                .nth(1)
                .map(str::to_string)
        };
        match (
            out.status.success(),
            after("--registration-token"),
            after("--ca-fingerprint"),
        ) {
            (true, Some(token), Some(fingerprint)) => Ok((token, fingerprint)),
            _ => Err(TestbedError::CommandFailed {
                command: described,
                status: out.status.to_string(),
                stderr: format!("{}{stdout}", String::from_utf8_lossy(&out.stderr)),
            }),
        }
    }

    fn spawn_agent(&self, index: usize, environment: Option<&str>) -> Result<()> {
        let host = self.host_unchecked(index);
        let state_dir = self.layout.host_dir(index).join("agent-state");
        if environment.is_some() {
            // Joining another environment: a new registration, a new credential.
            let _ = std::fs::remove_dir_all(&state_dir);
        }
        let (token, fingerprint) = self.registration_token(environment.unwrap_or("default"))?;
        let argv: Vec<OsString> = vec![
            "nsenter".into(),
            format!("--net=/var/run/netns/{}", host.netns).into(),
            self.state.corral.clone().into(),
            "agent".into(),
            "--server".into(),
            self.state.server_url.clone().into(),
            "--ca-fingerprint".into(),
            fingerprint.into(),
            "--name".into(),
            host.name.clone().into(),
            "--label".into(),
            "testbed=yes".into(),
            "--docker-host".into(),
            host.docker_host.clone().into(),
            "--state-dir".into(),
            state_dir.into(),
        ];
        // The token through the environment: command lines are public.
        let envs = [
            ("CORRAL_REGISTRATION_TOKEN", OsString::from(token)),
            ("DOCKER_HOST", OsString::from(&host.docker_host)),
        ];
        spawn_detached(
            &argv,
            &envs,
            &self.layout.agent_log(index),
            Some(&self.layout.agent_pid(index)),
        )
    }

    pub(super) fn agent_pid(&self, index: usize) -> Option<u32> {
        let marker = self
            .layout
            .docker_socket(index)
            .to_string_lossy()
            .into_owned();
        let program = program_name(&self.state.corral);
        live_pid(
            &self.layout.agent_pid(index),
            Identity {
                program: &program,
                marker: &marker,
            },
        )
    }
}
