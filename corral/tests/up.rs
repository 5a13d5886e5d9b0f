//! `corral up` as a user starts it: first start prints the URL and token and
//! writes the client config; SIGTERM stops it; containers survive and are
//! adopted by the next start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{WHOAMI, wait_for};

struct Up {
    child: Child,
    url: String,
}

fn start_up(data: &std::path::Path, config: &std::path::Path, docker_host: &str) -> Up {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--agent-listen",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data)
        .env("XDG_CONFIG_HOME", config)
        .env("DOCKER_HOST", docker_host)
        .env("CORRAL_NO_MANAGED_NETWORK", "1")
        .env("CORRAL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("corral is up at ")
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    // Then the admin's password (first start only), where the break-glass
    // token is, the CA's fingerprint and where the client config went.
    let mut rest = Vec::new();
    for line in lines.by_ref().take(4) {
        let line = line.unwrap();
        let done = line.contains("client config written to");
        rest.push(line);
        if done {
            break;
        }
    }
    assert!(
        rest.last()
            .is_some_and(|l| l.contains("client config written to")),
        "{rest:?}"
    );
    assert!(
        rest.iter().all(|l| !l.contains("crl_")),
        "a token was printed: {rest:?}"
    );
    std::thread::spawn(move || for _ in lines {});
    Up { child, url }
}

fn cli(config: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .env("XDG_CONFIG_HOME", config)
        .env_remove("CORRAL_URL")
        .env_remove("CORRAL_TOKEN")
        .output()
        .unwrap()
}

fn sigterm(up: &mut Up) {
    let pid = up.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = up.child.wait().unwrap();
    assert!(status.success(), "corral up exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_writes_the_client_config_stops_on_sigterm_and_adopts_on_restart() {
    let engine = tokio::task::spawn_blocking(|| {
        let e = corral_testing::test_engine()?;
        corral_testing::ensure_images(&e)?;
        anyhow::Ok(e)
    })
    .await
    .unwrap()
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (data, config) = (tmp.path().join("data"), tmp.path().join("config"));
    let svc = "upweb";
    let _ = engine
        .docker()
        .args(["rm", "-f", "upweb-1", "upweb-2"])
        .output();

    let mut up = start_up(&data, &config, &engine.docker_host);
    assert!(up.url.starts_with("https://127.0.0.1:"));
    let saved = std::fs::read_to_string(config.join("corral/config.json")).unwrap();
    assert!(saved.contains(&up.url));
    let out = cli(
        &config,
        &["service", "create", svc, "--image", WHOAMI, "--scale", "2"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let running = || {
        let out = cli(&config, &["service", "ps", svc, "-o", "json"]);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let ids: Vec<String> = rows
            .as_array()?
            .iter()
            .filter(|r| r["state"] == "running")
            .map(|r| r["container_id"].as_str().unwrap_or_default().to_string())
            .collect();
        (ids.len() == 2).then_some(ids)
    };
    let mut before = wait_for("2 running", Duration::from_secs(60), || async { running() }).await;
    before.sort();
    sigterm(&mut up);

    let mut up = start_up(&data, &config, &engine.docker_host);
    let mut after = wait_for(
        "2 running after restart",
        Duration::from_secs(60),
        || async { running() },
    )
    .await;
    after.sort();
    assert_eq!(before, after, "containers were not adopted");
    let out = cli(&config, &["service", "rm", svc]);
    assert!(out.status.success());
    wait_for("containers removed", Duration::from_secs(30), || async {
        let out = engine
            .docker()
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=io.corral.service={svc}"),
            ])
            .output()
            .ok()?;
        out.stdout.is_empty().then_some(())
    })
    .await;
    sigterm(&mut up);
}
