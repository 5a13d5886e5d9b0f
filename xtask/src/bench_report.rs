//! The figures of `cargo xtask bench start`: a table on stdout and
//! `target/bench/start.json`.

use std::time::Duration;

use anyhow::Context;
use serde_json::json;

use crate::bench_start::StartArgs;
use crate::docker::Docker;

/// Corral may take at most this many times as long as plain `docker run`.
pub const GOAL_RATIO: f64 = 1.25;

/// One run's measurements, in seconds.
#[derive(Debug, Clone)]
pub struct Figures {
    pub run: u32,
    pub order: &'static str,
    pub corral_s: f64,
    pub docker_s: f64,
    pub docker_par_s: f64,
    pub ratio: f64,
    pub ratio_par: f64,
}

impl Figures {
    pub fn new(
        run: u32,
        order: &'static str,
        corral: Duration,
        docker: Duration,
        docker_par: Duration,
    ) -> Self {
        let corral_s = corral.as_secs_f64();
        let docker_s = docker.as_secs_f64();
        let docker_par_s = docker_par.as_secs_f64();
        Figures {
            run,
            order,
            corral_s,
            docker_s,
            docker_par_s,
            ratio: corral_s / docker_s,
            ratio_par: corral_s / docker_par_s,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "run": self.run,
            "order": self.order,
            "corral_s": self.corral_s,
            "docker_s": self.docker_s,
            "docker_par_s": self.docker_par_s,
            "ratio": self.ratio,
            "ratio_par": self.ratio_par,
        })
    }
}

/// The median of `values` (the mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2],
        _ => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The machine, for the record.
struct Machine {
    nproc: usize,
    cpu_model: String,
    memory_kib: u64,
}

impl Machine {
    fn here() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model: field(&cpuinfo, "model name").unwrap_or_else(|| "unknown".into()),
            memory_kib: field(&meminfo, "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// The value of the first `key: value` line of a /proc file.
fn field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

/// Prints the table and the verdict, and writes `target/bench/start.json`.
pub fn report(figures: &[Figures], args: &StartArgs, docker: &Docker) -> anyhow::Result<()> {
    let engine_version = docker.server_version()?;
    let machine = Machine::here();
    let pick = |f: fn(&Figures) -> f64| median(&figures.iter().map(f).collect::<Vec<_>>());
    let med = Figures {
        run: 0,
        order: "",
        corral_s: pick(|f| f.corral_s),
        docker_s: pick(|f| f.docker_s),
        docker_par_s: pick(|f| f.docker_par_s),
        ratio: pick(|f| f.ratio),
        ratio_par: pick(|f| f.ratio_par),
    };
    println!();
    println!(
        "container start, N = {} containers, {} runs, Docker Engine {engine_version}, {} CPUs ({}), {} MiB",
        args.count,
        args.runs,
        machine.nproc,
        machine.cpu_model,
        machine.memory_kib / 1024
    );
    println!("(both sides run the containers with --init, as Corral's agent does)");
    println!(
        "{:<8} {:>10} {:>10} {:>12} {:>7} {:>10}",
        "run", "corral", "docker", "docker-par8", "ratio", "ratio-par"
    );
    for f in figures {
        print_row(&f.run.to_string(), f);
    }
    print_row("median", &med);
    let met = med.ratio <= GOAL_RATIO;
    println!(
        "goal: corral / docker (sequential) <= {GOAL_RATIO}: {} (median ratio {:.2})",
        if met { "met" } else { "NOT met" },
        med.ratio
    );
    let mut median_json = med.to_json();
    if let Some(fields) = median_json.as_object_mut() {
        fields.remove("run");
        fields.remove("order");
    }
    let record = json!({
        "count": args.count,
        "runs": args.runs,
        "engine_version": engine_version,
        "machine": {
            "nproc": machine.nproc,
            "cpu_model": machine.cpu_model,
            "memory_kib": machine.memory_kib,
        },
        "init": true,
        "parallel_anchor": 8,
        "per_run": figures.iter().map(Figures::to_json).collect::<Vec<_>>(),
        "median": median_json,
        "goal_ratio": GOAL_RATIO,
        "goal_met": met,
    });
    write_json(&record)
}

fn print_row(label: &str, f: &Figures) {
    println!(
        "{label:<8} {:>9.3}s {:>9.3}s {:>11.3}s {:>7.2} {:>10.2}",
        f.corral_s, f.docker_s, f.docker_par_s, f.ratio, f.ratio_par
    );
}

fn write_json(record: &serde_json::Value) -> anyhow::Result<()> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("start.json");
    let mut text = serde_json::to_string_pretty(record).context("cannot encode the figures")?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    println!("figures written to {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratios_divide_corral_by_docker() {
        let f = Figures::new(
            1,
            "x",
            Duration::from_secs(3),
            Duration::from_secs(2),
            Duration::from_secs(1),
        );
        assert_eq!(f.ratio, 1.5);
        assert_eq!(f.ratio_par, 3.0);
    }

    #[test]
    fn field_reads_proc_lines() {
        let text = "processor\t: 0\nmodel name\t: Some CPU\n";
        assert_eq!(field(text, "model name").as_deref(), Some("Some CPU"));
        assert_eq!(
            field("MemTotal:  24 kB\n", "MemTotal").as_deref(),
            Some("24 kB")
        );
    }
}
