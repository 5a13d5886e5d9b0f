//! The figures of `cargo xtask bench scale`: a table on stdout and
//! `target/bench/scale.json` (plus a copy named after the size, so runs at
//! several sizes are all kept).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context;

use crate::bench_scale_churn::ChurnFigures;
use serde_json::json;

/// What one scale run measured.
#[derive(Debug, Clone, Default)]
pub struct ScaleReport {
    pub nodes: usize,
    pub instances: u64,
    pub services: usize,
    pub server_profile: String,
    pub seconds_to_join: f64,
    pub seconds_to_create: f64,
    /// From the first create to the last running instance counted.
    pub seconds_to_all_running: f64,
    /// Seconds from the first create until this share (percent) ran.
    pub progress: Vec<(u32, f64)>,
    /// The same for containers running on the fake engines (before their
    /// status reaches the server and the service's count).
    pub engine_progress: Vec<(u32, f64)>,
    pub placements_per_s: f64,
    pub api_p50_ms: f64,
    pub api_p99_ms: f64,
    pub read_p50_ms: f64,
    pub read_p99_ms: f64,
    pub write_p50_ms: f64,
    pub write_p99_ms: f64,
    pub probe_requests: usize,
    pub probe_errors: u64,
    pub server_idle_rss_mb: f64,
    /// The peak until every instance ran (the deploy).
    pub server_peak_rss_mb: f64,
    pub server_rss_after_mb: f64,
    /// The peak over the whole run: the rule check (which lists every
    /// instance in one response) and the churn included.
    pub server_peak_rss_run_mb: f64,
    pub store_mb: f64,
    /// Server CPU seconds during the deploy, per thread name.
    pub server_cpu_s: BTreeMap<String, f64>,
    /// CPU seconds of this process (the agents and the probe) during the deploy.
    pub agents_cpu_s: f64,
    pub server_log_lines: usize,
    /// Containers running on the fake engines at the end.
    pub fake_containers_running: usize,
    /// The worst zone skew of a spread service (largest minus smallest
    /// zone count) and which, when checked.
    pub spread_skew: Option<(u32, String)>,
    /// Rule violations found by the check (None: not checked).
    pub violations: Option<Vec<String>>,
    /// Instance written → container started: p50, p99, max (ms).
    pub delivery_lag_ms: Option<(f64, f64, f64)>,
    pub churn: Option<ChurnFigures>,
    /// Why the churn phase failed, if it did.
    pub churn_error: Option<String>,
}

/// The machine, for the record.
pub fn machine() -> serde_json::Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |text: &str, key: &str| {
        text.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k.trim() == key).then(|| v.trim().to_owned())
        })
    };
    json!({
        "nproc": std::thread::available_parallelism().map_or(0, usize::from),
        "cpu_model": field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
        "memory_kib": field(&meminfo, "MemTotal")
            .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0),
        "loadavg_at_end": crate::bench_scale_runs::load_average(),
    })
}

impl ScaleReport {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "nodes": self.nodes,
            "instances": self.instances,
            "services": self.services,
            "server_profile": self.server_profile,
            "seconds_to_join": self.seconds_to_join,
            "seconds_to_create": self.seconds_to_create,
            "seconds_to_all_running": self.seconds_to_all_running,
            "progress_s": marks_json(&self.progress),
            "engine_progress_s": marks_json(&self.engine_progress),
            "placements_per_s": self.placements_per_s,
            "api_p50_ms": self.api_p50_ms,
            "api_p99_ms": self.api_p99_ms,
            "read_p50_ms": self.read_p50_ms,
            "read_p99_ms": self.read_p99_ms,
            "write_p50_ms": self.write_p50_ms,
            "write_p99_ms": self.write_p99_ms,
            "probe_requests": self.probe_requests,
            "probe_errors": self.probe_errors,
            "server_idle_rss_mb": self.server_idle_rss_mb,
            "server_peak_rss_mb": self.server_peak_rss_mb,
            "server_rss_after_mb": self.server_rss_after_mb,
            "server_peak_rss_run_mb": self.server_peak_rss_run_mb,
            "store_mb": self.store_mb,
            "server_cpu_s": self.server_cpu_s,
            "agents_cpu_s": self.agents_cpu_s,
            "server_log_lines": self.server_log_lines,
            "fake_containers_running": self.fake_containers_running,
            "delivery_lag_ms": self.delivery_lag_ms.map(|(p50, p99, max)| json!({
                "p50": p50, "p99": p99, "max": max,
            })),
            "churn": self.churn.as_ref().map(|c| json!({
                "killed_nodes": c.killed,
                "seconds_to_detect": c.seconds_to_detect,
                "seconds_to_return": c.seconds_to_return,
                "seconds_to_settle": c.seconds_to_settle,
                "containers_before": c.containers_before,
                "containers_after": c.containers_after,
                "api_p99_ms": c.api_p99_ms,
                "probe_errors": c.probe_errors,
            })),
            "churn_error": self.churn_error,
            "rules_checked": self.violations.is_some(),
            "violations": self.violations.as_ref().map(Vec::len),
            "max_zone_skew": self.spread_skew.as_ref().map(|(s, _)| *s),
            "machine": machine(),
        })
    }

    pub fn print_table(&self) {
        println!();
        println!(
            "scale: {} nodes, {} instances in {} services (server: {} build)",
            self.nodes, self.instances, self.services, self.server_profile
        );
        let rows: Vec<(&str, String)> = vec![
            ("nodes joined", format!("{:.1} s", self.seconds_to_join)),
            (
                "services created",
                format!("{:.1} s", self.seconds_to_create),
            ),
            (
                "deploy -> all running",
                format!("{:.1} s", self.seconds_to_all_running),
            ),
            ("reported running (share)", marks_text(&self.progress)),
            (
                "containers on engines (share)",
                marks_text(&self.engine_progress),
            ),
            (
                "placements/s (end to end)",
                format!("{:.0}", self.placements_per_s),
            ),
            (
                "API p50 / p99 (all)",
                format!("{:.1} / {:.1} ms", self.api_p50_ms, self.api_p99_ms),
            ),
            (
                "  reads p50 / p99",
                format!("{:.1} / {:.1} ms", self.read_p50_ms, self.read_p99_ms),
            ),
            (
                "  writes p50 / p99",
                format!("{:.1} / {:.1} ms", self.write_p50_ms, self.write_p99_ms),
            ),
            (
                "  probe requests / errors",
                format!("{} / {}", self.probe_requests, self.probe_errors),
            ),
            (
                "server RSS idle / peak / after",
                format!(
                    "{:.0} / {:.0} / {:.0} MB (peak of the whole run {:.0} MB)",
                    self.server_idle_rss_mb,
                    self.server_peak_rss_mb,
                    self.server_rss_after_mb,
                    self.server_peak_rss_run_mb
                ),
            ),
            ("store on disk", format!("{:.1} MB", self.store_mb)),
            ("server CPU in deploy", self.cpu_text()),
            (
                "agents' CPU in deploy",
                format!("{:.1} s", self.agents_cpu_s),
            ),
            ("server log lines", self.server_log_lines.to_string()),
            (
                "containers on the fake engines",
                self.fake_containers_running.to_string(),
            ),
            (
                "delivery lag p50 / p99 / max",
                self.delivery_lag_ms
                    .map_or("not checked".to_string(), |(a, b, c)| {
                        format!("{a:.0} / {b:.0} / {c:.0} ms")
                    }),
            ),
            ("churn", self.churn_text()),
            ("rules broken", self.violations_text()),
            (
                "worst zone skew (spread)",
                self.spread_skew
                    .as_ref()
                    .map_or("not checked".to_string(), |(s, d)| format!("{s} ({d})")),
            ),
        ];
        for (name, value) in rows {
            println!("  {name:<32} {value}");
        }
    }

    fn cpu_text(&self) -> String {
        let total: f64 = self.server_cpu_s.values().sum();
        let parts: Vec<String> = self
            .server_cpu_s
            .iter()
            .filter(|(_, s)| **s >= 0.05)
            .map(|(name, s)| format!("{name} {s:.1}"))
            .collect();
        format!("{total:.1} s ({})", parts.join(", "))
    }

    fn churn_text(&self) -> String {
        if let Some(e) = &self.churn_error {
            return format!("failed: {e}");
        }
        match &self.churn {
            None => "skipped".to_string(),
            Some(c) => format!(
                "{} nodes died: seen in {:.1} s; back in {:.1} s, settled in {:.1} s; containers {} -> {}; API p99 {:.1} ms",
                c.killed,
                c.seconds_to_detect,
                c.seconds_to_return,
                c.seconds_to_settle,
                c.containers_before,
                c.containers_after,
                c.api_p99_ms
            ),
        }
    }

    fn violations_text(&self) -> String {
        match &self.violations {
            None => "not checked".to_string(),
            Some(v) if v.is_empty() => "none".to_string(),
            Some(v) => format!("{} (first: {})", v.len(), v[0]),
        }
    }

    /// Writes `scale.json` and `scale-<nodes>n-<instances>i.json` under `target/bench/`.
    pub fn write(&self) -> anyhow::Result<PathBuf> {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
        let dir = target.join("bench");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text =
            serde_json::to_string_pretty(&self.to_json()).context("cannot encode the figures")?;
        text.push('\n');
        let path = dir.join("scale.json");
        let sized = dir.join(format!("scale-{}n-{}i.json", self.nodes, self.instances));
        for p in [&path, &sized] {
            std::fs::write(p, &text).with_context(|| format!("cannot write {}", p.display()))?;
        }
        Ok(path)
    }
}

fn marks_text(marks: &[(u32, f64)]) -> String {
    let parts: Vec<String> = marks.iter().map(|(p, s)| format!("{p}% {s:.1}s")).collect();
    parts.join(", ")
}

fn marks_json(marks: &[(u32, f64)]) -> BTreeMap<String, f64> {
    marks.iter().map(|(p, s)| (format!("{p}%"), *s)).collect()
}
