//! `cargo xtask bench scale --runs N`: the same configuration N times (3
//! for the record), each on a fresh server and data directory, and the
//! min, median and max of each figure, with the machine's model and its
//! load before each run. A goal is judged on the worst of the runs: a
//! figure that holds only at a good hour is not a result.

use std::path::PathBuf;

use anyhow::Context;
use serde_json::json;

use crate::bench_scale_report::{ScaleReport, machine};

/// A figure of every run: its name, whether less is better, and how to
/// read it from a run.
struct Figure {
    name: &'static str,
    lower_is_better: bool,
    of: fn(&ScaleReport) -> Option<f64>,
}

const FIGURES: &[Figure] = &[
    Figure {
        name: "all running (s)",
        lower_is_better: true,
        of: |r| Some(r.seconds_to_all_running),
    },
    Figure {
        name: "services created (s)",
        lower_is_better: true,
        of: |r| Some(r.seconds_to_create),
    },
    Figure {
        name: "placements/s",
        lower_is_better: false,
        of: |r| Some(r.placements_per_s),
    },
    Figure {
        name: "API p99 (ms)",
        lower_is_better: true,
        of: |r| Some(r.api_p99_ms),
    },
    Figure {
        name: "writes p99 (ms)",
        lower_is_better: true,
        of: |r| Some(r.write_p99_ms),
    },
    Figure {
        name: "delivery lag p99 (ms)",
        lower_is_better: true,
        of: |r| r.delivery_lag_ms.map(|l| l.1),
    },
    Figure {
        name: "server peak, deploy (MB)",
        lower_is_better: true,
        of: |r| Some(r.server_peak_rss_mb),
    },
    Figure {
        name: "server peak, whole run (MB)",
        lower_is_better: true,
        of: |r| Some(r.server_peak_rss_run_mb),
    },
    Figure {
        name: "churn settled (s)",
        lower_is_better: true,
        of: |r| r.churn.as_ref().map(|c| c.seconds_to_settle),
    },
];

/// Min, median and max of `values` (sorted here); `None` when empty.
pub fn spread(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut values: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let median = if values.len() % 2 == 1 {
        values[values.len() / 2]
    } else {
        (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0
    };
    Some((values[0], median, values[values.len() - 1]))
}

/// One run's outcome: its report (also when the churn failed) and the
/// load average before it.
pub struct RunOutcome {
    pub report: ScaleReport,
    pub load_before: String,
}

/// The load average now (1, 5, 15 minutes).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Prints the min/median/max table (the worst marked) and writes
/// `target/bench/scale-runs.json`.
pub fn summarise(runs: &[RunOutcome]) -> anyhow::Result<PathBuf> {
    let m = machine();
    println!(
        "\n{} runs on {} ({} cores); load before each: {}",
        runs.len(),
        m["cpu_model"].as_str().unwrap_or("unknown"),
        m["nproc"],
        runs.iter()
            .map(|r| format!("[{}]", r.load_before))
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "{:<30} {:>10} {:>10} {:>10} {:>10}",
        "figure", "min", "median", "max", "worst"
    );
    let mut rows = Vec::new();
    for f in FIGURES {
        let values: Vec<f64> = runs.iter().filter_map(|r| (f.of)(&r.report)).collect();
        let Some((min, median, max)) = spread(&values) else {
            continue;
        };
        let worst = if f.lower_is_better { max } else { min };
        println!(
            "{:<30} {min:>10.1} {median:>10.1} {max:>10.1} {worst:>10.1}",
            f.name
        );
        rows.push(
            json!({"figure": f.name, "min": min, "median": median, "max": max, "worst": worst}),
        );
    }
    let failures: Vec<String> = runs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.report
                .churn_error
                .as_ref()
                .map(|e| format!("run {}: churn: {e}", i + 1))
        })
        .collect();
    for f in &failures {
        println!("{f}");
    }
    let doc = json!({
        "machine": m,
        "runs": runs.iter().map(|r| json!({"load_before": r.load_before, "report": r.report.to_json()})).collect::<Vec<_>>(),
        "summary": rows,
        "failures": failures,
    });
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| corral_testing::workspace_root().join("target"));
    let dir = target.join("bench");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join("scale-runs.json");
    let mut text = serde_json::to_string_pretty(&doc).context("cannot encode the figures")?;
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_min_median_max_of_the_finite_values() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((1.0, 2.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0]), Some((1.0, 2.5, 4.0)));
        assert_eq!(spread(&[f64::NAN, 5.0]), Some((5.0, 5.0, 5.0)));
        assert_eq!(spread(&[]), None);
    }
}
