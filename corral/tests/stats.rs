//! Live stats end to end on the project's private engine: the agent
//! samples its host and its containers (cgroup files, /proc), the server
//! keeps them in memory, and `corral stats` shows them like `docker stats`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{BUSYBOX, Cluster, wait_for};
use corral_api::stats::{SeriesKind, StatsQuery};
use futures::StreamExt;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

/// The CPU % column of `name`'s row in a `corral stats` table.
fn cpu_of(table: &str, name: &str) -> Option<f64> {
    table
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?
        .split_whitespace()
        .nth(1)?
        .trim_end_matches('%')
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_show_a_busy_and_an_idle_container_and_the_host() {
    let c = Cluster::start_with("it-stats", |_, agent| {
        agent.stats_interval = Some(Duration::from_millis(500));
    })
    .await;
    c.create_service("hog", BUSYBOX, 1, &[], &["sh", "-c", "while :; do :; done"])
        .await;
    c.create_service("idle", BUSYBOX, 1, &[], &["sleep", "3600"])
        .await;
    c.wait_running("hog", 1).await;
    c.wait_running("idle", 1).await;

    // Every instance, once: the busy loop uses most of a core.
    let table = wait_for(
        "both instances in corral stats",
        Duration::from_secs(30),
        || async {
            let out = c.cli(&["stats", "--no-stream"]);
            let table = text(&out.stdout);
            (out.status.success()
                && cpu_of(&table, "hog-1").is_some_and(|cpu| cpu > 20.0)
                && cpu_of(&table, "idle-1").is_some())
            .then_some(table)
        },
    )
    .await;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(cpu_of(&table, "idle-1").unwrap() < 5.0, "{table}");
    let hog_row = table.lines().find(|l| l.starts_with("hog-1")).unwrap();
    assert!(
        hog_row.contains("MiB") || hog_row.contains("KiB"),
        "{table}"
    );

    // The service is the sum of its instances; the host has its disk.
    let out = c.cli(&["stats", "--service", "hog", "--no-stream"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        cpu_of(&text(&out.stdout), "hog").is_some_and(|cpu| cpu > 20.0),
        "{}",
        text(&out.stdout)
    );
    let out = c.cli(&["stats", "--node", "it-stats", "--no-stream"]);
    let host = text(&out.stdout);
    assert!(
        out.status.success() && host.contains("DISK USED / SIZE"),
        "{host}"
    );
    assert!(host.contains("GiB"), "{host}");
    let out = c.cli(&["stats", "--nodes", "--no-stream"]);
    assert!(
        text(&out.stdout).contains("it-stats"),
        "{}",
        text(&out.stdout)
    );

    // The history of an instance: samples in time order, from the API.
    let since = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        now - 60_000
    };
    let query = StatsQuery {
        instance: Some("hog-1".into()),
        since_ms: since,
        ..StatsQuery::default()
    };
    // The table above may have shown the first sample: wait for a second.
    let lines = wait_for("two samples of hog-1", Duration::from_secs(30), || async {
        let lines: Vec<_> = c
            .client
            .stats("default", &query)
            .await
            .unwrap()
            .map(|l| l.unwrap())
            .collect()
            .await;
        (lines.len() >= 2).then_some(lines)
    })
    .await;
    assert!(
        lines
            .iter()
            .all(|l| l.kind == SeriesKind::Instance && l.name == "hog-1")
    );
    assert!(
        lines
            .windows(2)
            .all(|w| w[0].sample.time_ms < w[1].sample.time_ms)
    );

    // Following: the table is drawn again as samples arrive.
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["stats", "hog-1"])
        .env("CORRAL_URL", c.url())
        .env("CORRAL_TOKEN", c.token())
        .env("CORRAL_CA_FILE", c.data_dir.join("ca.pem"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buf = [0u8; 4096];
        while seen.matches("NAME").count() < 3 {
            match stdout.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.push_str(&text(&buf[..n])),
            }
        }
        seen
    });
    let seen = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    child.kill().unwrap();
    let _ = child.wait();
    assert!(seen.matches("NAME").count() >= 3, "{seen}");
    assert!(seen.contains("hog-1"), "{seen}");

    // Bad input: a clear error, no request.
    for (args, needle) in [
        (vec!["stats", "--node", "a", "--service", "b"], "--service"),
        (vec!["stats", "Bad_Name"], "Bad_Name"),
    ] {
        let out = c.cli(&args);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    c.client
        .delete("default", corral_types::Kind::Service, "hog")
        .await
        .ok();
}
