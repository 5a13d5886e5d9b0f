//! The catalog end to end with the real CLI, server, agent and private
//! engine: the built-in catalog `library` is there on first start, its
//! templates are listed and shown, a bad answer is refused naming its
//! question and changes nothing, a dry run shows the plan, and a launch
//! runs the template's containers and remembers its template and answers;
//! a password answer is a secret the container reads and no spec holds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::probe::{Load, found_in_files, get};
use common::{Cluster, free_port, wait_for};
use corral_types::{Kind, Stack};

fn run(c: &Cluster, args: &[&str]) -> (bool, String, String) {
    let out = c.cli(args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

async fn stacks(c: &Cluster) -> Vec<Stack> {
    c.client
        .list("default", Kind::Stack, "")
        .await
        .unwrap()
        .items
}

fn ok(c: &Cluster, args: &[&str]) -> String {
    let (success, stdout, stderr) = run(c, args);
    assert!(success, "corral {args:?}: {stdout}{stderr}");
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_in_catalog_lists_shows_checks_answers_and_launches_a_template() {
    let c = Cluster::start("it-catalog").await;
    // The first start adds `library` and reads it in the background.
    let sources = wait_for(
        "the library catalog read",
        Duration::from_secs(30),
        || async {
            let out = ok(&c, &["catalog", "sources", "-o", "json"]);
            let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
            rows.iter()
                .any(|r| r["name"] == "library" && r["templates"] == 2)
                .then_some(rows)
        },
    )
    .await;
    assert_eq!(sources[0]["scope"], "global", "{sources:?}");
    assert_eq!(sources[0]["errors"], serde_json::json!([]), "{sources:?}");

    let list = ok(&c, &["catalog", "ls", "-o", "json"]);
    let templates: Vec<serde_json::Value> = serde_json::from_str(&list).unwrap();
    let ids: Vec<&str> = templates.iter().filter_map(|t| t["id"].as_str()).collect();
    assert_eq!(ids, ["library/hello", "library/sleeper"]);
    let shown = ok(&c, &["catalog", "show", "hello"]);
    assert!(
        shown.contains("public_port (int, required) [default 8080]"),
        "{shown}"
    );
    assert!(shown.contains("upgrades from v1.0.0"), "{shown}");

    // A bad answer names its question, and nothing is made.
    let (success, _, stderr) = run(
        &c,
        &[
            "app",
            "launch",
            "hello",
            "--name",
            "h1",
            "-a",
            "public_port=eighty",
            "--dry-run",
        ],
    );
    assert!(!success);
    assert!(
        stderr.contains("answers.public_port") && stderr.contains("not a whole number"),
        "{stderr}"
    );
    let (success, _, stderr) = run(&c, &["app", "launch", "hello:7", "--name", "h1"]);
    assert!(!success && stderr.contains("no version \"7\""), "{stderr}");
    assert!(stacks(&c).await.is_empty());

    // The plan of version 0, with its defaults, changes nothing.
    let plan = ok(
        &c,
        &[
            "app",
            "launch",
            "library/hello:0",
            "--name",
            "h0",
            "--dry-run",
        ],
    );
    assert!(
        plan.contains("library/hello version 0 as stack h0"),
        "{plan}"
    );
    assert!(
        plan.contains("public_port = 8080") && plan.contains("h0-web"),
        "{plan}"
    );
    assert!(plan.contains("dry run"), "{plan}");
    assert!(stacks(&c).await.is_empty());

    // A Go-template version launches: its containers run the answers.
    let out = ok(
        &c,
        &[
            "app",
            "launch",
            "sleeper",
            "--name",
            "naps",
            "-a",
            "seconds=600",
            "-a",
            "scale=2",
        ],
    );
    assert!(out.contains("deployed stack naps"), "{out}");
    let running = c.wait_running("naps-sleeper", 2).await;
    assert_eq!(running.len(), 2);
    let stack: Stack = c.client.get("default", Kind::Stack, "naps").await.unwrap();
    let app = stack.spec.app.expect("the stack remembers its template");
    assert_eq!(
        (app.template.as_str(), app.version.as_str()),
        ("library/sleeper", "0")
    );
    assert_eq!(app.answers["seconds"], "600");
    let ids = c.running_containers("naps-sleeper");
    let inspect = c.docker(&["inspect", "--format", "{{json .Config.Cmd}}", &ids[0]]);
    assert_eq!(
        String::from_utf8_lossy(&inspect.stdout).trim(),
        r#"["sleep","600"]"#
    );

    // Catalogs of an environment may not read the server's disk.
    let (success, _, stderr) = run(
        &c,
        &["-E", "default", "catalog", "add", "mine", "file:///etc"],
    );
    assert!(!success && stderr.contains("global only"), "{stderr}");
    ok(&c, &["stack", "rm", "naps"]);
}

fn app_row(c: &Cluster, stack: &str) -> serde_json::Value {
    let out = ok(c, &["app", "ls", "-o", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    rows.into_iter()
        .find(|r| r["stack"] == stack)
        .unwrap_or_else(|| panic!("no app {stack} in {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_upgrades_to_the_version_that_admits_it_carrying_its_answers_and_rolls_back() {
    let c = Cluster::start("it-catalog-up").await;
    wait_for(
        "the library catalog read",
        Duration::from_secs(30),
        || async {
            let out = ok(&c, &["catalog", "ls", "-o", "json"]);
            out.contains("library/hello").then_some(())
        },
    )
    .await;
    let port = free_port().to_string();
    let port_answer = format!("public_port={port}");
    ok(
        &c,
        &[
            "app",
            "launch",
            "hello:0",
            "--name",
            "h0",
            "-a",
            &port_answer,
            "-a",
            "web_scale=2",
        ],
    );
    c.wait_running("h0-web", 2).await;
    let row = app_row(&c, "h0");
    assert_eq!(
        (row["version"].as_str(), row["upgrade_available"].as_str()),
        (Some("0"), Some("1")),
        "{row}"
    );

    let (success, _, stderr) = run(&c, &["app", "upgrade", "h0", "--version", "9"]);
    assert!(!success && stderr.contains("no version \"9\""), "{stderr}");
    // Requests through the app's balancer all along the upgrade: the web
    // service starts its new instance first (version 1's upgrade_strategy).
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for(
        "an answer through the balancer",
        Duration::from_secs(30),
        || async { get(addr, "hello").ok() },
    )
    .await;
    let load = Load::start(
        addr,
        "hello",
        Duration::from_secs(120),
        Duration::from_millis(20),
    );
    let out = ok(&c, &["app", "upgrade", "h0"]);
    assert!(out.contains("library/hello version 1 as stack h0"), "{out}");
    // Answers carry over (the greeting of version 0, not version 1's
    // default); the new question takes its default.
    assert!(
        out.contains("greeting = hello\n") && out.contains("colour = green"),
        "{out}"
    );
    assert!(out.contains(&format!("public_port = {port}")), "{out}");
    let row = app_row(&c, "h0");
    assert_eq!(row["version"], "1", "{row}");
    assert!(
        row.get("upgrade_available").is_none() && row["can_roll_back"] == true,
        "{row}"
    );
    let stack: Stack = c.client.get("default", Kind::Stack, "h0").await.unwrap();
    let app = stack.spec.app.unwrap();
    assert_eq!(app.previous.map(|p| p.version).as_deref(), Some("0"));
    let upgraded = wait_for(
        "web runs version 1's launch",
        Duration::from_secs(60),
        || async {
            let insts = c.instances("h0-web").await;
            let new: Vec<_> = insts
                .iter()
                .filter(|i| {
                    i.status.state == corral_types::InstanceState::Running
                        && !i.spec.removing
                        && i.spec.launch.env.get("COLOUR").map(String::as_str) == Some("green")
                })
                .collect();
            (new.len() == 2 && insts.len() == 2).then_some(())
        },
    )
    .await;
    let (served, failed, errors) = load.finish().await;
    assert_eq!(upgraded, ());
    assert!(
        served > 0 && failed == 0,
        "{served} served, {failed} failed: {errors:?}"
    );

    let out = ok(&c, &["app", "rollback", "h0"]);
    assert!(out.contains("library/hello version 0 as stack h0"), "{out}");
    assert_eq!(app_row(&c, "h0")["version"], "0");
    ok(&c, &["stack", "rm", "h0"]);
}

fn git(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A template folder `templates/NAME` with one plain version per entry of
/// `versions` (a busybox service).
fn write_template(root: &std::path::Path, name: &str, versions: &[&str]) {
    let t = root.join("templates").join(name);
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(
        t.join("config.yml"),
        format!(
            "name: {name}\ncategory: Tools\nversion: {}\n",
            versions[versions.len() - 1]
        ),
    )
    .unwrap();
    for (i, v) in versions.iter().enumerate() {
        let d = t.join(i.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("docker-compose.yml"), "services:\n  app:\n    image: corral-busybox:latest\n    command: [sleep, \"${seconds}\"]\n").unwrap();
        std::fs::write(d.join("rancher-compose.yml"), format!(".catalog:\n  version: {v}\n  questions:\n    - variable: seconds\n      type: int\n      default: \"60\"\n")).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_git_catalog_is_cloned_refreshed_and_its_errors_named_without_hiding_the_rest() {
    let c = Cluster::start("it-catalog-git").await;
    let repo = tempfile::tempdir().unwrap();
    git(repo.path(), &["init", "-q"]);
    write_template(repo.path(), "tool", &["1.0"]);
    write_template(repo.path(), "hello", &["0.1"]);
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "first"]);
    let url = format!("file://{}", repo.path().display());

    let out = ok(&c, &["catalog", "add", "team", &url]);
    assert!(out.contains("team: 2 templates at "), "{out}");
    let list = ok(&c, &["catalog", "ls", "-o", "json"]);
    assert!(
        list.contains("team/tool") && list.contains("library/hello"),
        "{list}"
    );
    // Two catalogs have `hello`: the short name is refused, naming both.
    let (success, _, stderr) = run(&c, &["catalog", "show", "hello"]);
    assert!(
        !success && stderr.contains("library/hello") && stderr.contains("team/hello"),
        "{stderr}"
    );
    ok(&c, &["catalog", "show", "team/hello"]);

    // A new version and a broken template: refresh reads the one, names
    // the other, and keeps the rest.
    write_template(repo.path(), "tool", &["1.0", "2.0"]);
    std::fs::create_dir_all(repo.path().join("templates/broken/0")).unwrap();
    std::fs::write(
        repo.path().join("templates/broken/config.yml"),
        "name: [unclosed\n",
    )
    .unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "second"]);
    let out = ok(&c, &["catalog", "refresh", "team"]);
    assert!(
        out.contains("team: 2 templates") && out.contains("templates/broken/config.yml"),
        "{out}"
    );
    let shown = ok(&c, &["catalog", "show", "team/tool"]);
    assert!(shown.contains(" * 1: 2.0"), "{shown}");

    // A certificate question must name a stored certificate.
    let t = repo.path().join("templates/tls/0");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::write(repo.path().join("templates/tls/config.yml"), "name: tls\n").unwrap();
    std::fs::write(
        t.join("docker-compose.yml"),
        "services:\n  app:\n    image: corral-busybox:latest\n",
    )
    .unwrap();
    std::fs::write(t.join("rancher-compose.yml"), ".catalog:\n  questions:\n    - variable: cert\n      type: certificate\n      required: true\n").unwrap();
    git(repo.path(), &["add", "-A"]);
    git(repo.path(), &["commit", "-qm", "third"]);
    ok(&c, &["catalog", "refresh", "team"]);
    let (success, _, stderr) = run(
        &c,
        &[
            "app",
            "launch",
            "team/tls",
            "--name",
            "t1",
            "-a",
            "cert=nope",
            "--dry-run",
        ],
    );
    assert!(
        !success && stderr.contains("answers.cert") && stderr.contains("no certificate \"nope\""),
        "{stderr}"
    );

    // A branch that is not there: the error names it, on add and in sources.
    let (success, _, stderr) = run(&c, &["catalog", "add", "other", &url, "--branch", "nope"]);
    assert!(!success && stderr.contains("\"nope\""), "{stderr}");
    let sources = ok(&c, &["catalog", "sources"]);
    assert!(
        sources.contains("other") && sources.contains("nope"),
        "{sources}"
    );
    assert!(sources.contains("team"), "{sources}");
    ok(&c, &["catalog", "rm", "other", "team"]);
    let list = ok(&c, &["catalog", "ls", "-o", "json"]);
    assert!(!list.contains("team/"), "{list}");
}

/// The TOKEN each running container of `service` sees.
fn tokens_in_containers(c: &Cluster, service: &str) -> Vec<String> {
    c.running_containers(service)
        .iter()
        .map(|id| {
            let out = c.docker(&["exec", id, "sh", "-c", "echo \"$TOKEN\""]);
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_answer_is_a_secret_the_container_reads_and_no_spec_or_answer_holds() {
    const FIRST: &str = "first-token-7c1e";
    const SECOND: &str = "second-token-93ab";
    let c = Cluster::start("it-catalog-pw").await;
    wait_for(
        "the library catalog read",
        Duration::from_secs(30),
        || async {
            let out = ok(&c, &["catalog", "ls", "-o", "json"]);
            out.contains("library/sleeper").then_some(())
        },
    )
    .await;
    // Checked as any answer is, naming the question.
    let (success, _, stderr) = run(
        &c,
        &[
            "app",
            "launch",
            "sleeper",
            "--name",
            "tok",
            "-a",
            "token=short",
        ],
    );
    assert!(!success && stderr.contains("answers.token"), "{stderr}");
    let first = format!("token={FIRST}");
    let out = ok(
        &c,
        &[
            "app",
            "launch",
            "sleeper",
            "--name",
            "tok",
            "-a",
            &first,
            "-a",
            "restart=false",
        ],
    );
    assert!(out.contains("create secret tok_token"), "{out}");
    assert!(!out.contains(FIRST), "{out}");
    c.wait_running("tok-sleeper", 1).await;
    assert_eq!(tokens_in_containers(&c, "tok-sleeper"), [FIRST]);

    // The stack's answers and the service's spec name the secret, never the value.
    let stack: Stack = c.client.get("default", Kind::Stack, "tok").await.unwrap();
    let service: corral_types::Service = c
        .client
        .get("default", Kind::Service, "tok-sleeper")
        .await
        .unwrap();
    let answers = stack.spec.app.as_ref().unwrap().answers.clone();
    assert_eq!(
        answers.get("token").map(String::as_str),
        Some(corral_types::answer_secret_marker("tok_token").as_str())
    );
    let texts = [
        serde_json::to_string(&stack).unwrap(),
        serde_json::to_string(&service).unwrap(),
        ok(&c, &["stack", "export", "tok", "--stdout"]),
        ok(&c, &["app", "ls", "-o", "json"]),
    ];
    for text in &texts {
        assert!(!text.contains(FIRST), "{text}");
    }
    // The export says how the secret is delivered, so it deploys as the app ran.
    assert!(texts[2].contains("x-corral-env: TOKEN"), "{}", texts[2]);
    assert!(!service.spec.env.contains_key("TOKEN"));
    assert_eq!(service.spec.secrets.len(), 1, "{:?}", service.spec.secrets);
    assert_eq!(
        (
            service.spec.secrets[0].source.as_str(),
            service.spec.secrets[0].env.as_str()
        ),
        ("tok_token", "TOKEN")
    );
    let stored = found_in_files(&c.data_dir, FIRST.as_bytes());
    assert!(stored.is_empty(), "the password is in {stored:?}");

    // An upgrade that gives no password keeps it; a new one is a new
    // version of the secret, and the service rolls to it.
    let out = ok(
        &c,
        &[
            "app",
            "upgrade",
            "tok",
            "--version",
            "0",
            "-a",
            "seconds=3000",
        ],
    );
    assert!(out.contains("secret tok_token kept at version 1"), "{out}");
    let second = format!("token={SECOND}");
    let out = ok(
        &c,
        &["app", "upgrade", "tok", "--version", "0", "-a", &second],
    );
    assert!(out.contains("new version 2 of secret tok_token"), "{out}");
    wait_for(
        "the sleeper runs with the new token",
        Duration::from_secs(60),
        || async { (tokens_in_containers(&c, "tok-sleeper") == [SECOND]).then_some(()) },
    )
    .await;

    // Another secret's marker is not a way to read that secret.
    let other = format!(
        "token={}",
        corral_types::answer_secret_marker("someone_else")
    );
    let (success, _, stderr) = run(
        &c,
        &["app", "upgrade", "tok", "--version", "0", "-a", &other],
    );
    assert!(
        !success && stderr.contains("answers.token") && stderr.contains("someone_else"),
        "{stderr}"
    );
    ok(&c, &["stack", "rm", "tok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_catalogs_credentials_are_checked_sealed_and_never_answered() {
    let c = Cluster::start("it-catalog-auth").await;
    let dir = tempfile::tempdir().unwrap();
    // A key of the right shape: the server checks its form, not its use here.
    let key = dir.path().join("id");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap().to_string();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-5e1f-private\n").unwrap();
    let (key_path, token_path) = (key.to_str().unwrap(), token.to_str().unwrap());

    // Each credential goes with its kind of URL, and a password only over https.
    let refusals: [(&[&str], &str); 4] = [
        (
            &[
                "catalog",
                "add",
                "p",
                "http://127.0.0.1:1/c.git",
                "--username",
                "u",
                "--password-file",
                token_path,
            ],
            "https",
        ),
        (
            &[
                "catalog",
                "add",
                "p",
                "https://127.0.0.1:1/c.git",
                "--ssh-key",
                key_path,
            ],
            "ssh URLs",
        ),
        (
            &[
                "catalog",
                "add",
                "p",
                "https://127.0.0.1:1/c.git",
                "--username",
                "u",
            ],
            "password",
        ),
        (
            &[
                "catalog",
                "add",
                "p",
                "ssh://git@127.0.0.1:1/c.git",
                "--ssh-key",
                token_path,
            ],
            "not a private key",
        ),
    ];
    for (args, why) in refusals {
        let (success, _, stderr) = run(&c, args);
        assert!(!success && stderr.contains(why), "{args:?}: {stderr}");
    }
    let listed = ok(&c, &["catalog", "sources", "-o", "json"]);
    assert!(!listed.contains("\"p\""), "{listed}");

    // Added: the fetch opens the sealed key and reaches for the host (a
    // closed port here; gitsync's own tests clone through a real sshd).
    let port = free_port();
    let url = format!("ssh://git@127.0.0.1:{port}/catalog.git");
    let (_, _, stderr) = run(
        &c,
        &["catalog", "add", "private", &url, "--ssh-key", key_path],
    );
    assert!(
        !stderr.contains("credentials") && !stderr.contains(&key_line),
        "{stderr}"
    );
    let https = "https://127.0.0.1:1/team/catalog.git";
    run(
        &c,
        &[
            "catalog",
            "add",
            "tokened",
            https,
            "--username",
            "ci",
            "--password-file",
            token_path,
        ],
    );
    let sources = ok(&c, &["catalog", "sources", "-o", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&sources).unwrap();
    let row = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(row("private")["auth"], "ssh-key", "{sources}");
    assert_eq!(row("tokened")["auth"], "password (ci)", "{sources}");
    let error = row("private")["errors"].to_string();
    assert!(
        error.contains("127.0.0.1") && !error.contains("credentials"),
        "{error}"
    );

    // Neither the key nor the token is in any answer or in the store in clear.
    let raw = serde_json::to_string(&c.client.catalogs(None).await.unwrap()).unwrap();
    assert!(raw.contains("ssh-key") && !raw.contains("sealed"), "{raw}");
    for text in [&raw, &sources] {
        assert!(
            !text.contains(&key_line) && !text.contains("tok-5e1f"),
            "{text}"
        );
    }
    for needle in [key_line.as_bytes(), b"tok-5e1f-private".as_slice()] {
        let stored = found_in_files(&c.data_dir, needle);
        assert!(stored.is_empty(), "a credential is in {stored:?}");
    }
    ok(&c, &["catalog", "rm", "private", "tokened"]);
}
