//! The footprint report: the table, `target/bench/footprint.json`, and the
//! machine it was measured on.

use super::*;

/// Everything the table and the JSON say.
pub(super) struct Report {
    pub(super) binary: PathBuf,
    pub(super) profile: &'static str,
    pub(super) engine_version: String,
    pub(super) instances: u32,
    pub(super) seconds: u64,
    pub(super) rows: Vec<Row>,
}

impl Report {
    pub(super) fn find(&self, process: &str, phase_starts: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| r.process == process && r.phase.starts_with(phase_starts))
    }

    /// A figure in MiB from one row, `None` when that phase did not run.
    pub(super) fn pick(&self, process: &str, phase: &str, f: fn(&Row) -> u64) -> Option<f64> {
        self.find(process, phase).map(|r| mib(f(r)))
    }

    /// The peak of a process over its whole life: VmHWM of its last row.
    pub(super) fn peak(&self, process: &str) -> Option<f64> {
        let last = self.rows.iter().rev().find(|r| r.process == process)?;
        Some(mib(last.last.hwm))
    }

    pub(super) fn headline(&self) -> serde_json::Map<String, serde_json::Value> {
        let loaded = format!("{} instances", self.instances);
        let median = |r: &Row| r.rss_median_kib;
        let pairs = [
            (
                "server_idle_rss_mb".to_owned(),
                self.pick("corral server", "idle, no node", median),
            ),
            ("server_peak_rss_mb".to_owned(), self.peak("corral server")),
            (
                format!("server_rss_{}_instances_mb", self.instances),
                self.pick("corral server", &loaded, median),
            ),
            (
                "agent_idle_rss_mb".to_owned(),
                self.pick("corral agent", "idle", median),
            ),
            (
                format!("agent_rss_{}_instances_mb", self.instances),
                self.pick("corral agent", &loaded, median),
            ),
            ("agent_peak_rss_mb".to_owned(), self.peak("corral agent")),
            (
                "up_idle_rss_mb".to_owned(),
                self.pick("corral up", "idle", median),
            ),
            (
                format!("up_rss_{}_instances_mb", self.instances),
                self.pick("corral up", &loaded, median),
            ),
            ("up_peak_rss_mb".to_owned(), self.peak("corral up")),
        ];
        pairs
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, json!(v))))
            .collect()
    }

    /// The goals: the server's idle RSS (its largest sample) under 50 MiB;
    /// the agent's peak (VmHWM, which includes starting the instances)
    /// under 20 MiB.
    pub(super) fn goals(&self) -> (Option<f64>, Option<f64>) {
        let server = self.pick("corral server", "idle, no node", |r| r.rss_max_kib);
        (server, self.peak("corral agent"))
    }

    pub(super) fn print(&self) {
        let machine = Machine::here();
        println!();
        println!(
            "memory footprint, {} build ({}), {} CPUs, kernel {}, Docker Engine {}",
            self.profile,
            self.binary.display(),
            machine.nproc,
            machine.kernel,
            self.engine_version
        );
        println!(
            "(MiB from /proc/<pid>/status; RSS sampled every {} ms for {} s per phase)",
            SAMPLE_EVERY.as_millis(),
            self.seconds
        );
        println!(
            "{:<14} {:<22} {:>10} {:>8} {:>8} {:>7} {:>7} {:>7}",
            "process", "phase", "RSS med", "RSS max", "VmHWM", "anon", "file", "threads"
        );
        for r in &self.rows {
            println!(
                "{:<14} {:<22} {:>10.1} {:>8.1} {:>8.1} {:>7.1} {:>7.1} {:>7}",
                r.process,
                r.phase,
                mib(r.rss_median_kib),
                mib(r.rss_max_kib),
                mib(r.last.hwm),
                mib(r.last.anon),
                mib(r.last.file),
                r.last.threads
            );
        }
        let (server, agent) = self.goals();
        let verdict = |value: Option<f64>, goal: f64| match value {
            Some(v) if v < goal => format!("met ({v:.1} MiB)"),
            Some(v) => format!("NOT met ({v:.1} MiB)"),
            None => "not measured".to_owned(),
        };
        println!(
            "goal: server idle < {SERVER_GOAL_MIB} MiB: {} (k3s server ~{K3S_SERVER_MIB} MiB)",
            verdict(server, SERVER_GOAL_MIB)
        );
        println!(
            "goal: agent peak < {AGENT_GOAL_MIB} MiB: {} (k3s agent ~{K3S_AGENT_MIB} MiB)",
            verdict(agent, AGENT_GOAL_MIB)
        );
    }

    pub(super) fn write(&self) -> anyhow::Result<()> {
        let machine = Machine::here();
        let (server, agent) = self.goals();
        let mut record = self.headline();
        let rest = json!({
            "unit": "MiB (KiB from /proc / 1024)",
            "binary": self.binary.display().to_string(),
            "profile": self.profile,
            "engine_version": self.engine_version,
            "instances": self.instances,
            "sample_seconds": self.seconds,
            "sample_every_ms": SAMPLE_EVERY.as_millis() as u64,
            "settle_seconds": SETTLE.as_secs(),
            "machine": {
                "nproc": machine.nproc,
                "kernel": machine.kernel,
                "memory_kib": machine.memory_kib,
            },
            "goals": {
                "server_idle_mb": SERVER_GOAL_MIB,
                "server_met": server.map(|v| v < SERVER_GOAL_MIB),
                "agent_mb": AGENT_GOAL_MIB,
                "agent_met": agent.map(|v| v < AGENT_GOAL_MIB),
            },
            "anchors": {
                "k3s_server_small_workload_mb": K3S_SERVER_MIB,
                "k3s_agent_mb": K3S_AGENT_MIB,
            },
            "phases": self.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        });
        if let serde_json::Value::Object(fields) = rest {
            record.extend(fields);
        }
        let dir = release_binary()
            .parent()
            .and_then(Path::parent)
            .map(|target| target.join("bench"))
            .context("the release binary path has no target directory")?;
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join("footprint.json");
        let mut text = serde_json::to_string_pretty(&serde_json::Value::Object(record))
            .context("cannot encode the figures")?;
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("figures written to {}", path.display());
        Ok(())
    }
}

/// The machine, for the record.
pub(super) struct Machine {
    pub(super) nproc: usize,
    pub(super) kernel: String,
    pub(super) memory_kib: u64,
}

impl Machine {
    pub(super) fn here() -> Self {
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| "unknown".into(), |k| k.trim().to_owned()),
            memory_kib: status_kib("/proc/meminfo", "MemTotal").unwrap_or(0),
        }
    }
}
