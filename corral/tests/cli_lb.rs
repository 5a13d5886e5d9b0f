//! `corral cert` and `corral lb` as a user runs them: certificates stored
//! from files and never shown with their key, load balancers created from
//! `--rule` flags, bad input refused in one line without a change.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Cluster, WHOAMI, free_port};
use corral_types::{Certificate, Kind, LbConfig, LbProtocol, PortRule, Service, Stickiness};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A self-signed certificate for `names`, as (certificate PEM, key PEM).
fn self_signed(names: &[&str]) -> (String, String) {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(names)
        .unwrap()
        .self_signed(&key)
        .unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Asserts the command failed with one `error: ` line containing every needle.
fn assert_refused(c: &Cluster, args: &[&str], needles: &[&str]) {
    let out = c.cli(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {err}");
    assert!(err.starts_with("error: "), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    for needle in needles {
        assert!(
            err.contains(needle),
            "{args:?}: {err:?} should name {needle:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_are_stored_from_files_and_listed_without_their_key() {
    let c = Cluster::start("it-cli-cert").await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["shop.example.com", "*.shop.example.com"]);
    let (cert_file, key_file) = (dir.path().join("shop.crt"), dir.path().join("shop.key"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let (cert_arg, key_arg) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());

    let out = c.cli(&[
        "cert", "create", "shop", "--cert", cert_arg, "--key", key_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "shop\n");
    let stored: Certificate = c
        .client
        .get("default", Kind::Certificate, "shop")
        .await
        .unwrap();
    // The key is sealed at rest and never answered (docs/SECURITY.md).
    assert_eq!(
        (stored.spec.certificate, stored.spec.key.as_str()),
        (cert, "")
    );

    let before = c.client.services("default").await.unwrap().revision;
    let missing = dir.path().join("nosuch.key");
    assert_refused(
        &c,
        &[
            "cert",
            "create",
            "other",
            "--cert",
            cert_arg,
            "--key",
            missing.to_str().unwrap(),
        ],
        &["--key", "nosuch.key"],
    );
    assert_refused(
        &c,
        &[
            "cert", "create", "other", "--cert", key_arg, "--key", key_arg,
        ],
        &["--cert", "shop.key", "CERTIFICATE"],
    );
    assert_eq!(c.client.services("default").await.unwrap().revision, before);

    for format in ["json", "yaml", "table"] {
        let out = c.cli(&["cert", "ls", "-o", format]);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let key_body = key.lines().nth(1).unwrap();
        assert!(
            !text.contains("PRIVATE KEY") && !text.contains(key_body) && !text.contains("key"),
            "cert ls -o {format} shows the key: {text}"
        );
    }
    let rows: serde_json::Value =
        serde_json::from_slice(&c.cli(&["cert", "ls", "-o", "json"]).stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "the refused certificate was not stored");
    assert_eq!(rows[0]["name"], "shop");
    assert_eq!(
        rows[0]["names"],
        serde_json::json!(["shop.example.com", "*.shop.example.com"])
    );
    assert!(
        rows[0]["expires"].as_str().unwrap().ends_with('Z'),
        "{rows:?}"
    );

    let out = c.cli(&["cert", "rm", "shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_refused(&c, &["cert", "rm", "shop"], &["shop", "not found"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lb_create_makes_a_load_balancer_service_and_bad_rules_change_nothing() {
    let c = Cluster::start("it-cli-lb").await;
    let (http, https) = (free_port(), free_port());
    let http_rule = format!("{http} -> web:80");
    let https_rule = format!("{https}/https *.example.com/api -> shop/api:9000 priority=2");

    let before = c.client.services("default").await.unwrap().revision;
    let tcp_host = format!("{http}/tcp db.example.com -> db");
    let refused: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--rule", "80 web"], vec!["--rule", "80 web", "->"]),
        (vec!["--rule", "80/udp -> web"], vec!["--rule", "udp"]),
        (
            vec!["--rule", &tcp_host],
            vec!["--rule", &tcp_host, "route by port"],
        ),
        (
            vec!["--rule", &https_rule],
            vec!["--rule", "needs a certificate"],
        ),
    ];
    for (flags, needles) in refused {
        let mut args = vec!["lb", "create", "edge"];
        args.extend(flags);
        assert_refused(&c, &args, &needles);
    }
    let after = c.client.services("default").await.unwrap();
    assert_eq!(
        after.revision, before,
        "a refused lb create changed the store"
    );

    let out = c.cli(&[
        "lb",
        "create",
        "edge",
        "--rule",
        &http_rule,
        "--rule",
        &https_rule,
        "--cert",
        "shop",
        "--sticky-cookie",
        "SRV",
        "--scale",
        "1",
        "-l",
        "tier=edge",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "edge\n");

    let edge: Service = c
        .client
        .get("default", Kind::Service, "edge")
        .await
        .unwrap();
    let want = LbConfig {
        port_rules: vec![
            PortRule {
                source_port: http,
                target_service: "web".into(),
                target_port: 80,
                ..PortRule::default()
            },
            PortRule {
                source_port: https,
                protocol: LbProtocol::Https,
                hostname: "*.example.com".into(),
                path: "/api".into(),
                priority: 2,
                target_service: "shop/api".into(),
                target_port: 9000,
                backend_name: String::new(),
            },
        ],
        certificates: vec!["shop".into()],
        default_certificate: String::new(),
        stickiness: Some(Stickiness {
            cookie: "SRV".into(),
            domain: String::new(),
        }),
        trust_forwarded_for: false,
    };
    assert_eq!(edge.spec.lb.as_ref(), Some(&want));
    assert_eq!(edge.spec.ports, want.port_specs());
    let mut host_ports: Vec<u16> = edge.spec.ports.iter().map(|p| p.host_port).collect();
    host_ports.sort_unstable();
    let mut sources = vec![http, https];
    sources.sort_unstable();
    assert_eq!(host_ports, sources);
    assert_eq!((edge.spec.image.as_str(), edge.spec.scale), ("", 1));
    assert_eq!(
        edge.meta.labels.get("tier").map(String::as_str),
        Some("edge")
    );

    c.create_service("plain", WHOAMI, 0, &[], &[]).await;
    let rows: serde_json::Value =
        serde_json::from_slice(&c.cli(&["lb", "ls", "-o", "json"]).stdout).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "lb ls lists only load balancers: {rows:?}");
    assert_eq!(rows[0]["name"], "edge");
    assert_eq!(rows[0]["rules"][0], http_rule.as_str());

    assert_refused(
        &c,
        &["lb", "rm", "plain"],
        &["plain", "not a load balancer"],
    );
    let out = c.cli(&["lb", "rm", "edge"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = c
        .client
        .services("default")
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|s| s.meta.name)
        .collect();
    assert_eq!(names, ["plain"]);
}

/// The agent of the balancer's node gets the certificate's sealed key from
/// the server (no one else does) and terminates TLS with it: a real `curl`
/// that trusts only that certificate reaches the backend through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_balancer_terminates_tls_with_a_key_only_its_agent_receives() {
    let c = Cluster::start("it-cli-lb-tls").await;
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(&["shop.example.com"]);
    let (cert_file, key_file) = (dir.path().join("shop.crt"), dir.path().join("shop.key"));
    std::fs::write(&cert_file, &cert).unwrap();
    std::fs::write(&key_file, &key).unwrap();
    let (cert_arg, key_arg) = (cert_file.to_str().unwrap(), key_file.to_str().unwrap());
    let out = c.cli(&[
        "cert", "create", "shop", "--cert", cert_arg, "--key", key_arg,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    c.create_service("tlsweb", WHOAMI, 1, &[], &[]).await;
    c.wait_running("tlsweb", 1).await;
    let https = free_port();
    let rule = format!("{https}/https shop.example.com -> tlsweb:80");
    let out = c.cli(&["lb", "create", "tlsedge", "--rule", &rule, "--cert", "shop"]);
    assert!(out.status.success(), "{}", stderr(&out));
    c.wait_running("tlsedge", 1).await;
    let url = format!("https://shop.example.com:{https}/");
    let resolve = format!("shop.example.com:{https}:127.0.0.1");
    let answer = common::wait_for(
        "an answer over TLS through the balancer",
        std::time::Duration::from_secs(30),
        || async {
            let out = std::process::Command::new("curl")
                .args(["-sS", "--max-time", "5", "--cacert", cert_arg])
                .args(["--resolve", &resolve, &url])
                .output()
                .unwrap();
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).to_string())
        },
    )
    .await;
    assert!(
        answer.starts_with("Hostname: ") && answer.contains("x-forwarded-proto: https"),
        "whoami answered through the balancer over TLS: {answer}"
    );
}
