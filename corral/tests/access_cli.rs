//! Teams, end to end with the real `corral` binary: a real `corral
//! server`, two environments, local users in each, directory users from a
//! real OpenLDAP slapd, a node's credential that tries to create a
//! service, a read-only user's watch, and the audit log naming it all.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `corral` as one person: its own client config.
struct Person {
    config: PathBuf,
    url: String,
    /// The server's CA fingerprint, checked on `corral login`.
    fingerprint: String,
}

impl Person {
    fn new(root: &Path, name: &str, url: &str) -> Person {
        let ca = std::fs::read_to_string(root.join("data/ca.pem")).unwrap();
        Person {
            config: root.join(format!("config-{name}")),
            url: url.to_string(),
            fingerprint: corral_pki::fingerprint_of_pem(&ca).unwrap(),
        }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_corral"));
        cmd.args(args)
            .env("XDG_CONFIG_HOME", &self.config)
            .env_remove("CORRAL_URL")
            .env_remove("CORRAL_TOKEN")
            .env_remove("CORRAL_ENVIRONMENT")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        assert!(
            out.status.success(),
            "corral {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// A command that must fail with one line on stderr containing `says`.
    fn refused(&self, args: &[&str], says: &str) -> String {
        let out = self.run(args, None);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!out.status.success(), "corral {} succeeded", args.join(" "));
        assert_eq!(
            err.trim().lines().count(),
            1,
            "corral {}: {err}",
            args.join(" ")
        );
        assert!(err.contains(says), "corral {}: {err}", args.join(" "));
        err
    }

    fn login(&self, user: &str, password: &str) {
        self.ok(
            &[
                "login",
                &self.url,
                "--username",
                user,
                "--password-stdin",
                "--ca-fingerprint",
                &self.fingerprint,
            ],
            Some(&format!("{password}\n")),
        );
    }

    /// The session token `corral login` saved.
    fn token(&self) -> String {
        let text = std::fs::read_to_string(self.config.join("corral/config.json")).unwrap();
        let cfg: Value = serde_json::from_str(&text).unwrap();
        cfg["token"].as_str().unwrap().to_string()
    }
}

fn start_server(data: &Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["server", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("corral server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .to_string();
    std::thread::spawn(move || for _ in lines {});
    (Server(child), url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_work_end_to_end_with_the_real_cli() {
    use corral_testing::slapd;
    let directory = corral_testing::Slapd::start(&slapd::seed_ldif().unwrap()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let (_server, url) = start_server(&data);
    let ca = std::fs::read_to_string(data.join("ca.pem")).unwrap();
    let http = corral_api::Trust::pinned(&ca).http_client().unwrap();
    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    let admin = Person::new(tmp.path(), "admin", &url);
    admin.login("admin", password.trim());

    // Two environments, a user in each.
    admin.ok(
        &["env", "create", "dev", "--description", "developers"],
        None,
    );
    admin.ok(&["env", "create", "test"], None);
    admin.ok(
        &["user", "create", "dana", "--password-stdin"],
        Some("dana-password\n"),
    );
    admin.ok(
        &["user", "create", "tess", "--password-stdin"],
        Some("tess-password\n"),
    );
    admin.ok(&["member", "add", "dev", "dana", "--role", "member"], None);
    admin.ok(
        &["member", "add", "test", "tess", "--role", "read-only"],
        None,
    );
    // Bad input changes nothing and says why.
    admin.refused(&["member", "add", "dev", "dana", "--role", "king"], "role");
    admin.refused(&["user", "create", "dana", "--password-stdin"], "");
    // The directory, and a group of it as members of dev.
    admin.ok(
        &[
            "auth",
            "ldap",
            "set",
            "--url",
            &directory.url(),
            "--bind-dn",
            slapd::SERVICE_DN,
            "--bind-password-stdin",
            "--user-base",
            slapd::PEOPLE_BASE,
            "--group-base",
            slapd::GROUPS_BASE,
            "--disabled-filter",
            "(pwdAccountLockedTime=*)",
        ],
        Some(&format!("{}\n", slapd::SERVICE_PASSWORD)),
    );
    admin.ok(
        &["member", "add", "dev", "group:devs", "--role", "restricted"],
        None,
    );

    // A member of dev works in dev and does not see test.
    let dana = Person::new(tmp.path(), "dana", &url);
    dana.login("dana", "dana-password");
    dana.ok(
        &[
            "-E", "dev", "service", "create", "web", "--image", "busybox",
        ],
        None,
    );
    dana.refused(
        &["-E", "test", "service", "ls"],
        "environment \"test\" not found",
    );
    let envs = dana.ok(&["env", "ls"], None);
    assert!(envs.contains("dev") && !envs.contains("test"), "{envs}");

    // A directory user, restricted in dev through its group.
    let alice = Person::new(tmp.path(), "alice", &url);
    alice.login("alice", "alice-pw");
    let services = alice.ok(&["-E", "dev", "service", "ls"], None);
    assert!(services.contains("web"), "{services}");
    alice.refused(&["-E", "dev", "node", "drain", "n1"], "restricted");
    // A disabled directory user is told so.
    let carol = Person::new(tmp.path(), "carol", &url);
    let out = carol.run(
        &[
            "login",
            &url,
            "--username",
            "carol",
            "--password-stdin",
            "--ca-fingerprint",
            &carol.fingerprint,
        ],
        Some("carol-pw\n"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("disabled"));

    // A server whose CA is not the one the user was told of is refused
    // before the password is sent, and nothing is saved.
    let other = corral_pki::Authority::ephemeral().unwrap();
    let err = carol.refused(
        &[
            "login",
            &url,
            "--username",
            "carol",
            "--password-stdin",
            "--ca-fingerprint",
            other.fingerprint(),
        ],
        other.fingerprint(),
    );
    assert!(err.contains(&carol.fingerprint), "names both: {err}");
    assert!(!carol.config.join("corral/config.json").exists());

    // A read-only user's watch sees only its environment.
    let tess = Person::new(tmp.path(), "tess", &url);
    tess.login("tess", "tess-password");
    let watch = http
        .clone()
        .get(format!("{url}/v1/watch"))
        .bearer_auth(tess.token())
        .send()
        .await
        .unwrap();
    assert!(watch.status().is_success());
    dana.ok(
        &[
            "-E", "dev", "service", "create", "api", "--image", "busybox",
        ],
        None,
    );
    admin.ok(
        &[
            "-E", "test", "service", "create", "probe", "--image", "busybox",
        ],
        None,
    );
    let mut body = watch.bytes_stream();
    let mut text = String::new();
    while !text.contains("\"probe\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("the watch went quiet")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let ev: Value = serde_json::from_str(line).unwrap();
        assert_eq!(ev["object"]["meta"]["environment"], "test", "{line}");
    }
    tess.refused(
        &["-E", "test", "service", "scale", "probe", "2"],
        "read-only",
    );

    // A node's credential may not create a service.
    let add = admin.ok(&["-E", "dev", "host", "add-command"], None);
    let registration = add
        .split_whitespace()
        .skip_while(|w| *w != "--registration-token")
        .nth(1)
        .unwrap()
        .to_string();
    let registered: Value = http
        .clone()
        .post(format!("{url}/v1/register"))
        .bearer_auth(&registration)
        .json(&serde_json::json!({
            "node": "n9",
            "csr_pem": corral_pki::NodeKey::generate().unwrap().csr_pem("n9").unwrap(),
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = registered["credential"].as_str().unwrap().to_string();
    let mut node = Command::new(env!("CARGO_BIN_EXE_corral"));
    let out = node
        .args([
            "-E", "dev", "service", "create", "evil", "--image", "busybox",
        ])
        .env("CORRAL_URL", &url)
        .env("CORRAL_TOKEN", &credential)
        .env("CORRAL_CA_FILE", data.join("ca.pem"))
        .env("XDG_CONFIG_HOME", tmp.path().join("config-node"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Its credential is bound to the node's client certificate, which the
    // CLI does not hold: refused before any rule is looked at.
    assert!(err.contains("client certificate"), "{err}");

    // The audit log names each of these.
    let audit = admin.ok(&["audit", "ls", "-o", "json"], None);
    let records: Vec<Value> = serde_json::from_str(&audit).unwrap();
    let has = |user: &str, code: u64, verb: &str| {
        records.iter().any(|r| {
            r["user"].as_str().unwrap_or("").contains(user)
                && r["code"] == code
                && r["verb"].as_str().unwrap_or("").contains(verb)
        })
    };
    assert!(
        has("dana", 200, "POST /v1/environments/{env}/services"),
        "{audit}"
    );
    assert!(
        has("dana", 404, "GET /v1/environments/{env}/services"),
        "{audit}"
    );
    assert!(
        has("node:dev/n9", 401, "POST /v1/environments/{env}/services"),
        "{audit}"
    );
    assert!(has("alice", 200, "POST /v1/login"), "{audit}");
    assert!(has("alice", 403, "/drain"), "{audit}");
    assert!(has("carol", 401, "POST /v1/login"), "{audit}");
    assert!(has("tess", 403, "/scale"), "{audit}");
    // A user may not read it.
    dana.refused(&["audit", "ls"], "admin");

    // Logging out ends the session on the server.
    let before = dana.token();
    dana.ok(&["logout"], None);
    let out = http
        .clone()
        .get(format!("{url}/v1/whoami"))
        .bearer_auth(before)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 401);
}
