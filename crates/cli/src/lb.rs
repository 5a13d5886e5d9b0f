//! `corral lb create|ls|rm`: load balancers, which are services with
//! `spec.lb` set (no image; the rules' source ports published on the host).

use std::collections::BTreeMap;

use corral_api::Client;
use corral_types::{
    Kind, LbConfig, Object, Service, ServiceMode, ServiceSpec, Stickiness, ValidationError,
};
use serde::Serialize;

use crate::args::{LbCmd, LbCreateArgs, RmArgs};
use crate::errors::{list_error, object_error};
use crate::output::{Row, print, print_rows};

pub(crate) async fn run(client: &Client, env: &str, cmd: LbCmd) -> anyhow::Result<()> {
    match cmd {
        LbCmd::Create(args) => {
            let service = build_lb(env, &args)?;
            let created = client
                .create(&service)
                .await
                .map_err(|e| object_error(e, "create", "load balancer", env, &args.name))?;
            print(&format!("{}\n", created.meta.name))
        }
        LbCmd::Ls(args) => {
            let list = client
                .services(env)
                .await
                .map_err(|e| list_error(e, "services", env))?;
            print_rows(&lb_rows(&list.items), args.output)
        }
        LbCmd::Rm(args) => remove(client, env, &args).await,
    }
}

/// The load balancer service the flags describe, checked as the server
/// checks it; a bad rule is named by its `--rule` text.
pub(crate) fn build_lb(env: &str, args: &LbCreateArgs) -> anyhow::Result<Service> {
    let lb = LbConfig {
        port_rules: args.rules.iter().map(|r| r.rule.clone()).collect(),
        certificates: args.certs.clone(),
        default_certificate: args.default_cert.clone().unwrap_or_default(),
        stickiness: args.sticky_cookie.as_ref().map(|cookie| Stickiness {
            cookie: cookie.clone(),
            domain: String::new(),
        }),
        trust_forwarded_for: false,
    };
    if let Err(e) = lb.validate() {
        anyhow::bail!("{}", flag_error(args, &e));
    }
    let labels: BTreeMap<String, String> = args.labels.iter().cloned().collect();
    let spec = ServiceSpec {
        scale: args.scale,
        mode: if args.global {
            ServiceMode::Global
        } else {
            ServiceMode::Replicated
        },
        ports: lb.port_specs(),
        lb: Some(lb),
        container_labels: labels.clone(),
        ..ServiceSpec::default()
    };
    spec.validate()
        .map_err(|e| anyhow::anyhow!("invalid load balancer {:?}: {e}", args.name))?;
    let mut service: Service = Object::new(Kind::Service, env, &args.name, spec);
    service.meta.labels = labels;
    Ok(service)
}

/// An `LbConfig` error as the flag that caused it: `--rule "80/tcp a.com -> db": ...`.
fn flag_error(args: &LbCreateArgs, e: &ValidationError) -> String {
    let rule = e
        .field
        .strip_prefix("port_rules[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, _)| args.rules.get(i.parse::<usize>().ok()?));
    if let Some(rule) = rule {
        return format!("--rule {:?}: {}", rule.text, e.message);
    }
    let flag = if e.field.starts_with("certificates") {
        "--cert"
    } else if e.field == "default_certificate" {
        "--default-cert"
    } else if e.field.starts_with("stickiness") {
        "--sticky-cookie"
    } else {
        return format!("invalid load balancer {:?}: {e}", args.name);
    };
    format!("{flag}: {}", e.message)
}

/// Removes every load balancer named; a service that is not one is
/// refused, and a failure does not stop the others.
async fn remove(client: &Client, env: &str, args: &RmArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.names {
        match remove_one(client, env, name).await {
            Ok(()) => print(&format!("{name}\n"))?,
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    }
}

async fn remove_one(client: &Client, env: &str, name: &str) -> anyhow::Result<()> {
    let fail = |e| object_error(e, "remove", "load balancer", env, name);
    let service: Service = client.get(env, Kind::Service, name).await.map_err(fail)?;
    if service.spec.lb.is_none() {
        anyhow::bail!("service {name:?} is not a load balancer (corral service rm {name})");
    }
    client.delete(env, Kind::Service, name).await.map_err(fail)
}

/// One load balancer as `lb ls` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct LbRow {
    pub name: String,
    /// `global`, or the number of instances wanted.
    pub scale: String,
    pub running: u32,
    /// The host ports it listens on.
    pub ports: Vec<u16>,
    /// Each rule in the `--rule` form.
    pub rules: Vec<String>,
    pub certificates: Vec<String>,
}

impl LbRow {
    fn new(s: &Service, lb: &LbConfig) -> Self {
        let mut certificates = lb.certificates.clone();
        if !lb.default_certificate.is_empty() && !certificates.contains(&lb.default_certificate) {
            certificates.push(lb.default_certificate.clone());
        }
        LbRow {
            name: s.meta.name.clone(),
            scale: match s.spec.mode {
                ServiceMode::Global => "global".to_string(),
                ServiceMode::Replicated => s.spec.scale.to_string(),
            },
            running: s.status.running,
            ports: s.spec.ports.iter().map(|p| p.host_port).collect(),
            rules: lb.port_rules.iter().map(ToString::to_string).collect(),
            certificates,
        }
    }
}

impl Row for LbRow {
    const HEADERS: &'static [&'static str] =
        &["NAME", "SCALE", "RUNNING", "PORTS", "CERTIFICATES", "RULES"];

    fn cells(&self) -> Vec<String> {
        let ports: Vec<String> = self.ports.iter().map(ToString::to_string).collect();
        vec![
            self.name.clone(),
            self.scale.clone(),
            self.running.to_string(),
            ports.join(","),
            self.certificates.join(","),
            self.rules.join("; "),
        ]
    }
}

/// The load balancers among `services`, sorted by name.
pub(crate) fn lb_rows(services: &[Service]) -> Vec<LbRow> {
    let mut rows: Vec<LbRow> = services
        .iter()
        .filter_map(|s| Some(LbRow::new(s, s.spec.lb.as_ref()?)))
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;
    use corral_types::{LbProtocol, Protocol};

    fn args(extra: &[&str]) -> LbCreateArgs {
        let argv = ["corral", "lb", "create", "edge"]
            .into_iter()
            .chain(extra.iter().copied());
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Lb(LbCmd::Create(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    fn build(extra: &[&str]) -> anyhow::Result<Service> {
        build_lb("prod", &args(extra))
    }

    #[test]
    fn flags_become_a_load_balancer_service_publishing_its_source_ports() {
        let s = build(&[
            "--rule",
            "80 -> web:8080",
            "--rule",
            "443/https *.example.com -> web:8080",
            "--rule",
            "80 api.example.com/v1 -> shop/api:9000 priority=1",
            "--cert",
            "wild",
            "--default-cert",
            "main",
            "--sticky-cookie",
            "SRV",
            "--scale",
            "2",
            "-l",
            "tier=edge",
        ])
        .unwrap();
        assert_eq!((s.kind, s.meta.name.as_str()), (Kind::Service, "edge"));
        assert_eq!((s.spec.image.as_str(), s.spec.scale), ("", 2));
        let ports: Vec<(u16, u16, Protocol)> = s
            .spec
            .ports
            .iter()
            .map(|p| (p.host_port, p.container_port, p.protocol))
            .collect();
        assert_eq!(ports, [(80, 80, Protocol::Tcp), (443, 443, Protocol::Tcp)]);
        let lb = s.spec.lb.as_ref().unwrap();
        assert_eq!(lb.port_rules.len(), 3);
        assert_eq!(lb.port_rules[1].protocol, LbProtocol::Https);
        assert_eq!(lb.port_rules[2].target_service, "shop/api");
        assert_eq!(
            (lb.certificates.as_slice(), lb.default_certificate.as_str()),
            (&["wild".to_string()][..], "main")
        );
        assert_eq!(
            lb.stickiness.as_ref().map(|s| s.cookie.as_str()),
            Some("SRV")
        );
        assert_eq!(s.meta.labels.get("tier").map(String::as_str), Some("edge"));
        let g = build(&["--rule", "5432/tcp -> db", "--global"]).unwrap();
        assert_eq!(g.spec.mode, ServiceMode::Global);
    }

    #[test]
    fn a_rule_the_config_refuses_is_named_by_its_flag_and_text() {
        let e = build(&[
            "--rule",
            "80 -> web",
            "--rule",
            "5432/tcp db.example.com -> db",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                r#"--rule "5432/tcp db.example.com -> db": tcp rules route by port only"#
            ),
            "{e}"
        );
        let e = build(&["--rule", "443/https -> web"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(r#"--rule "443/https -> web": https needs a certificate"#),
            "{e}"
        );
        let e = build(&["--rule", "80 -> web", "--rule", "80/tcp -> db"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(r#"--rule "80/tcp -> db": port 80 is already served"#),
            "{e}"
        );
        let e = build(&["--rule", "80 -> web", "--sticky-cookie", "a b"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--sticky-cookie: "), "{e}");
        let e = build(&["--rule", "80 -> web", "-l", "io.corral.x=1"])
            .unwrap_err()
            .to_string();
        assert!(e.contains(r#""edge""#) && e.contains("io.corral."), "{e}");
    }

    #[test]
    fn lb_ls_lists_only_load_balancers_with_their_rules() {
        let lb = build(&["--rule", "80 -> web:8080", "--rule", "81 /api -> api"]).unwrap();
        let web: Service = Object::new(
            Kind::Service,
            "prod",
            "web",
            ServiceSpec {
                image: "nginx".into(),
                ..ServiceSpec::default()
            },
        );
        let rows = lb_rows(&[web, lb]);
        assert_eq!(rows.len(), 1);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME   SCALE   RUNNING   PORTS   CERTIFICATES   RULES"
        );
        assert_eq!(
            lines[1],
            "edge   1       0         80,81                  80 -> web:8080; 81 /api -> api"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        assert_eq!(json[0]["rules"][1], "81 /api -> api");
        assert_eq!(json[0]["ports"][0], 80);
    }
}
