//! The `corral` binary as a user runs it: listings, logs, and clear errors
//! that change nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Cluster, WHOAMI, free_port, wait_for};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_print_tables_json_and_yaml() {
    let c = Cluster::start("it-cli-ls").await;
    let out = c.cli(&["node", "ls", "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let nodes: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let node = &nodes.as_array().unwrap()[0];
    assert_eq!(node["name"], "it-cli-ls");
    assert_eq!(node["state"], "active");
    assert!(node["address"].is_string() && node["labels"].is_object());

    let out = c.cli(&[
        "service", "create", "cliweb", "--image", WHOAMI, "--scale", "2", "-l", "tier=web",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    c.wait_running("cliweb", 2).await;

    let out = c.cli(&["service", "ps", "cliweb", "-o", "json"]);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for key in ["instance", "node", "state", "container_id", "reason"] {
        assert!(rows[0].get(key).is_some(), "ps -o json lacks {key}");
    }
    assert_eq!(rows[0]["instance"], "cliweb-1");
    assert_eq!(rows[0]["state"], "running");

    let table = stdout(&c.cli(&["service", "ls"]));
    let header = table.lines().next().unwrap();
    assert!(
        header.starts_with("NAME") && header.contains("SCALE"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("cliweb ") && l.contains(WHOAMI)),
        "{table}"
    );

    let yaml = stdout(&c.cli(&["service", "ps", "cliweb", "-o", "yaml"]));
    assert!(yaml.contains("instance: cliweb-1"), "{yaml}");
    let inspect = stdout(&c.cli(&["service", "inspect", "cliweb"]));
    assert!(
        inspect.contains("kind: Service") && inspect.contains("tier: web"),
        "{inspect}"
    );
    ps_watch_prints_the_list_again_when_it_changes(&c).await;
}

/// `service ps --watch` into a pipe: the table, then after a blank line
/// the table again whenever it changed.
async fn ps_watch_prints_the_list_again_when_it_changes(c: &Cluster) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["service", "ps", "cliweb", "--watch"])
        .env("CORRAL_URL", c.url())
        .env("CORRAL_TOKEN", c.token())
        .env("CORRAL_CA_FILE", c.data_dir.join("ca.pem"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next_until = |wanted: &str| -> Vec<String> {
        let mut seen = Vec::new();
        while let Ok(line) = lines_rx.recv_timeout(Duration::from_secs(60)) {
            let done = line.contains(wanted);
            seen.push(line);
            if done {
                return seen;
            }
        }
        panic!("no line with {wanted:?} from ps --watch; saw {seen:?}");
    };
    next_until("cliweb-2");
    let scaled = c.cli(&["service", "scale", "cliweb", "3"]);
    assert!(scaled.status.success(), "{}", stderr(&scaled));
    let again = next_until("cliweb-3");
    assert!(again.iter().any(|l| l.is_empty()), "{again:?}");
    assert!(again.iter().any(|l| l.starts_with("INSTANCE")), "{again:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_show_the_container_output() {
    let c = Cluster::start("it-cli-logs").await;
    c.create_service("logweb", WHOAMI, 1, &[], &[]).await;
    c.wait_running("logweb", 1).await;
    let text = wait_for(
        "the start line in the logs",
        Duration::from_secs(20),
        || async {
            let out = c.cli(&["logs", "logweb-1", "--tail", "5"]);
            let text = stdout(&out);
            (out.status.success() && text.contains("listening")).then_some(text)
        },
    )
    .await;
    assert!(text.contains("whoami listening on 0.0.0.0:80"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_input_gives_one_clear_line_and_changes_nothing() {
    let c = Cluster::start("it-cli-bad").await;
    let port = free_port().to_string();
    let ok_port = format!("{port}:80");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["service", "create", "Bad_Name", "--image", WHOAMI],
            "Bad_Name",
        ),
        (
            vec![
                "service", "create", "web", "--image", WHOAMI, "-p", "99999:80",
            ],
            "99999",
        ),
        (
            vec![
                "service", "create", "web", "--image", WHOAMI, "-e", "NOEQUALS",
            ],
            "NOEQUALS",
        ),
        (
            vec![
                "service",
                "create",
                "web",
                "--image",
                WHOAMI,
                "--restart",
                "sometimes",
            ],
            "sometimes",
        ),
        (
            vec![
                "service", "create", "web", "--image", WHOAMI, "-p", &ok_port, "-p", &ok_port,
            ],
            "published twice",
        ),
        (vec!["service", "create", "web", "--image", ""], "image"),
        (vec!["service", "scale", "nosuch", "2"], "nosuch"),
        (vec!["service", "scale", "web", "many"], "many"),
        (vec!["service", "ps", "nosuch"], "nosuch"),
        (vec!["service", "inspect", "nosuch"], "nosuch"),
        (vec!["service", "rm", "nosuch"], "nosuch"),
        (vec!["logs", "nosuch-1"], "nosuch-1"),
        (vec!["-E", "nowhere", "service", "ls"], "nowhere"),
    ];
    let before = c.client.services("default").await.unwrap();
    for (args, needle) in cases {
        let out = c.cli(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {err}");
        assert!(
            err.starts_with("error: ") || err.contains("error:"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} should name {needle:?}"
        );
        if err.starts_with("error: ") {
            assert_eq!(
                err.trim_end().lines().count(),
                1,
                "{args:?}: more than one line: {err}"
            );
        }
    }
    let after = c.client.services("default").await.unwrap();
    assert_eq!(
        after.revision, before.revision,
        "a rejected command changed the store"
    );
    assert!(after.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused_with_a_clear_error() {
    let c = Cluster::start("it-cli-auth").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["node", "ls"])
        .env("CORRAL_URL", c.url())
        .env("CORRAL_TOKEN", "wrong")
        .env("CORRAL_CA_FILE", c.data_dir.join("ca.pem"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("token"), "{}", stderr(&out));
}
