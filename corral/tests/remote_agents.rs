//! `corral server` and two `corral agent` processes, as on separate hosts
//! (here both drive the private engine): replicas spread across the nodes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{WHOAMI, wait_for};

struct Kill(Vec<Child>);

impl Drop for Kill {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn corral() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_corral"));
    c.env("CORRAL_LOG", "warn");
    c.env("CORRAL_NO_MANAGED_NETWORK", "1");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_agents_join_with_labels_and_replicas_spread_across_nodes() {
    let engine = tokio::task::spawn_blocking(|| {
        let e = corral_testing::test_engine()?;
        corral_testing::ensure_images(&e)?;
        anyhow::Ok(e)
    })
    .await
    .unwrap()
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = corral()
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("corral server listening on ")
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let mut procs = Kill(vec![server]);
    // Hosts are added the way an operator adds them: the line `host
    // add-command` prints, with a registration token.
    let add = corral()
        .args(["host", "add-command", "--ttl", "1h"])
        .env("CORRAL_URL", &url)
        .env("CORRAL_TOKEN", &token)
        .env("CORRAL_CA_FILE", data.join("ca.pem"))
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&add.stdout).to_string();
    assert!(
        add.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let registration = printed
        .split_whitespace()
        .skip_while(|w| *w != "--registration-token")
        .nth(1)
        .unwrap_or_else(|| panic!("no token in {printed}"))
        .to_string();
    let fingerprint = printed
        .split_whitespace()
        .skip_while(|w| *w != "--ca-fingerprint")
        .nth(1)
        .unwrap_or_else(|| panic!("no CA fingerprint in {printed}"))
        .to_string();
    // An agent given another CA's fingerprint refuses the server before
    // its token is sent.
    let other = corral_pki::Authority::ephemeral().unwrap();
    let forged = corral()
        .args([
            "agent",
            "--server",
            &url,
            "--registration-token",
            &registration,
            "--ca-fingerprint",
            other.fingerprint(),
            "--name",
            "ra-forged",
            "--listen",
            "127.0.0.1:0",
            "--docker-host",
            &engine.docker_host,
        ])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&forged.stderr);
    assert!(!forged.status.success(), "{said}");
    assert!(
        said.contains(other.fingerprint()),
        "names the fingerprint: {said}"
    );
    for (name, zone) in [("ra-node1", "a"), ("ra-node2", "b")] {
        let agent = corral()
            .args([
                "agent",
                "--server",
                &url,
                "--registration-token",
                &registration,
                "--ca-fingerprint",
                &fingerprint,
                "--state-dir",
                tmp.path().join(name).to_str().unwrap(),
                "--name",
                name,
                "--label",
                &format!("zone={zone}"),
            ])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--docker-host",
                &engine.docker_host,
            ])
            .spawn()
            .unwrap();
        procs.0.push(agent);
    }
    let cli = |args: &[&str]| {
        corral()
            .args(args)
            .env("CORRAL_URL", &url)
            .env("CORRAL_TOKEN", &token)
            .env("CORRAL_CA_FILE", data.join("ca.pem"))
            .output()
            .unwrap()
    };
    let nodes = wait_for("two active nodes", Duration::from_secs(30), || async {
        let out = cli(&["node", "ls", "-o", "json"]);
        let nodes: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let n = nodes
            .as_array()?
            .iter()
            .filter(|n| n["state"] == "active")
            .count();
        (n == 2).then_some(nodes)
    })
    .await;
    assert_eq!(nodes[0]["labels"]["zone"], "a");
    assert_eq!(nodes[1]["labels"]["zone"], "b");

    let out = cli(&[
        "service",
        "create",
        "spreadweb",
        "--image",
        WHOAMI,
        "--scale",
        "4",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows = wait_for("4 running", Duration::from_secs(60), || async {
        let out = cli(&["service", "ps", "spreadweb", "-o", "json"]);
        let rows: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let running = rows
            .as_array()?
            .iter()
            .filter(|r| r["state"] == "running")
            .count();
        (running == 4).then_some(rows)
    })
    .await;
    let on = |node: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .filter(|r| r["node"] == node)
            .count()
    };
    assert_eq!((on("ra-node1"), on("ra-node2")), (2, 2), "{rows}");

    let out = cli(&["service", "rm", "spreadweb"]);
    assert!(out.status.success());
    wait_for("containers removed", Duration::from_secs(30), || async {
        let out = engine
            .docker()
            .args(["ps", "-aq", "--filter", "label=io.corral.service=spreadweb"])
            .output()
            .ok()?;
        out.stdout.is_empty().then_some(())
    })
    .await;
}

/// `corral env rm` of a deactivated environment removes everything in it:
/// its agent sees its instances go and removes their containers, and its
/// credential is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_an_environment_stops_its_containers_and_revokes_its_hosts() {
    let engine = tokio::task::spawn_blocking(|| {
        let e = corral_testing::test_engine()?;
        corral_testing::ensure_images(&e)?;
        anyhow::Ok(e)
    })
    .await
    .unwrap()
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut server = corral()
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("corral server listening on ")
        .unwrap()
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let mut procs = Kill(vec![server]);
    let cli = |args: &[&str]| {
        corral()
            .args(args)
            .env("CORRAL_URL", &url)
            .env("CORRAL_TOKEN", &token)
            .env("CORRAL_CA_FILE", data.join("ca.pem"))
            .output()
            .unwrap()
    };
    let ok = |args: &[&str]| {
        let out = cli(args);
        assert!(
            out.status.success(),
            "corral {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    ok(&["env", "create", "doomed"]);
    let add = ok(&["-E", "doomed", "host", "add-command"]);
    let registration = add
        .split_whitespace()
        .skip_while(|w| *w != "--registration-token")
        .nth(1)
        .unwrap()
        .to_string();
    let fingerprint = add
        .split_whitespace()
        .skip_while(|w| *w != "--ca-fingerprint")
        .nth(1)
        .unwrap()
        .to_string();
    let agent = corral()
        .args([
            "agent",
            "--server",
            &url,
            "--registration-token",
            &registration,
            "--ca-fingerprint",
            &fingerprint,
        ])
        .args(["--name", "rm-node1", "--listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(tmp.path().join("agent"))
        .args(["--docker-host", &engine.docker_host])
        .spawn()
        .unwrap();
    procs.0.push(agent);
    wait_for("the node in doomed", Duration::from_secs(30), || async {
        let out = cli(&["-E", "doomed", "node", "ls", "-o", "json"]);
        let nodes: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (nodes.as_array()?.iter().any(|n| n["state"] == "active")).then_some(())
    })
    .await;
    // The credential is the agent's own, kept private.
    let cred = tmp.path().join("agent/credential.json");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&cred).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    ok(&[
        "-E", "doomed", "service", "create", "gone", "--image", WHOAMI, "--scale", "2",
    ]);
    let containers = || {
        let out = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                "label=io.corral.environment=doomed",
            ])
            .env("DOCKER_HOST", &engine.docker_host)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    wait_for("2 containers", Duration::from_secs(60), || async {
        (containers() == 2).then_some(())
    })
    .await;
    // Active: refused, nothing removed.
    let out = cli(&["env", "rm", "doomed"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deactivate"));
    ok(&["env", "deactivate", "doomed"]);
    ok(&["env", "rm", "doomed"]);
    wait_for(
        "no container of doomed",
        Duration::from_secs(60),
        || async { (containers() == 0).then_some(()) },
    )
    .await;
    let out = cli(&["-E", "doomed", "node", "ls"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}
