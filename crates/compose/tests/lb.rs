//! Load balancers: Rancher's `lb_config` with `rancher/lb-service-haproxy`,
//! the `io.corral.lb.*` labels, errors naming file, line and key, export.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use corral_compose::load;
use corral_types::{LbProtocol, PortRule, ServiceMode, Stickiness};

#[test]
fn rancher_lb_config_makes_a_load_balancer_that_runs_no_image() {
    let loaded = load_ok(&[
        file("lb/docker-compose.yml"),
        file("lb/rancher-compose.yml"),
    ]);
    let lb_spec = &loaded.services["lb"];
    let lb = lb_spec.lb.as_ref().expect("a load balancer");
    assert_eq!(lb_spec.image, "", "the haproxy image is not run");
    assert_eq!(lb_spec.scale, 2);
    assert_eq!(lb_spec.mode, ServiceMode::Global);
    assert!(lb_spec.health_check.is_none());
    assert_eq!(lb.port_rules.len(), 5);
    assert_eq!(
        lb.port_rules[1],
        PortRule {
            source_port: 80,
            protocol: LbProtocol::Http,
            hostname: "api.example.com".into(),
            path: "/v1".into(),
            priority: 1,
            target_service: "api".into(),
            target_port: 9000,
            backend_name: "api-v1".into(),
        }
    );
    // `8443:443` publishes the 443 rule on host port 8443.
    assert_eq!(lb.port_rules[2].source_port, 8443);
    assert_eq!(lb.port_rules[4].target_service, "common/files");
    assert_eq!(lb.certificates, ["shop-wildcard"]);
    assert_eq!(lb.default_certificate, "shop-main");
    assert_eq!(
        lb.stickiness,
        Some(Stickiness {
            cookie: "SRV".into(),
            domain: String::new()
        })
    );
    let host_ports: Vec<u16> = lb_spec.host_ports().map(|(p, _)| p).collect();
    assert_eq!(host_ports, [80, 5432, 8443]);
    assert_eq!(
        lb_spec.container_labels["io.rancher.container.agent.role"],
        "environmentAdmin"
    );
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("services.lb.health_check: ignored")),
        "{warnings:?}"
    );
    assert_round_trip("demo", &loaded);
}

#[test]
fn io_corral_lb_labels_make_the_same_load_balancer() {
    let loaded = load_ok(&[file("lb-labels.yml")]);
    let edge = &loaded.services["edge"];
    let lb = edge.lb.as_ref().expect("a load balancer");
    assert_eq!(edge.image, "");
    assert_eq!(lb.port_rules.len(), 4);
    assert_eq!(lb.port_rules[1].hostname, "api.example.com");
    assert_eq!(lb.port_rules[1].path, "/v1");
    assert_eq!(lb.port_rules[1].priority, 1);
    assert_eq!(lb.port_rules[3].protocol, LbProtocol::Tcp);
    assert_eq!(lb.port_rules[3].target_port, 0, "the source port");
    assert_eq!(
        lb.stickiness.as_ref().map(|s| s.cookie.as_str()),
        Some("SRV")
    );
    assert_eq!(
        edge.container_labels.keys().collect::<Vec<_>>(),
        ["com.example.team"],
        "the io.corral.lb labels are read, not put on containers"
    );
    let host_ports: Vec<u16> = edge.host_ports().map(|(p, _)| p).collect();
    assert_eq!(host_ports, [80, 443, 5432]);
    let files = assert_round_trip("demo", &loaded);
    assert!(files[0].content.contains("rancher/lb-service-haproxy"));
    assert!(files[1].content.contains("lb_config"));
}

fn rancher_err(rancher: &str) -> String {
    let files = [
        src(
            "docker-compose.yml",
            "services:\n  lb:\n    image: rancher/lb-service-haproxy\n  web:\n    image: w\n",
        ),
        src("rancher-compose.yml", rancher),
    ];
    load("demo", &files, &no_vars()).unwrap_err().to_string()
}

#[test]
fn bad_load_balancers_are_errors_naming_file_line_and_key() {
    let rule = |extra: &str| {
        format!(
            "services:\n  lb:\n    lb_config:\n      port_rules:\n      - source_port: 80\n        service: web\n{extra}"
        )
    };
    assert_eq!(
        rancher_err(&rule(
            "        protocol: tcp\n        hostname: a.example.com\n"
        )),
        "rancher-compose.yml:5: services.lb.lb_config.port_rules[0].protocol: tcp rules route by port only: hostname and path need http or https"
    );
    assert!(
        rancher_err(&rule("        protocol: https\n"))
            .starts_with("rancher-compose.yml:5: services.lb.lb_config.port_rules[0].protocol: https needs a certificate"),
    );
    assert_eq!(
        rancher_err(&rule("        target_port: 70000\n")),
        "rancher-compose.yml:7: services.lb.lb_config.port_rules[0].target_port: 70000 is not a port from 1 to 65535"
    );
    assert_eq!(
        rancher_err(&rule("        protocol: udp\n")),
        "rancher-compose.yml:7: services.lb.lb_config.port_rules[0].protocol: udp load balancing is not supported"
    );
    assert_eq!(
        rancher_err(&rule("        colour: red\n")),
        "rancher-compose.yml:7: services.lb.lb_config.port_rules[0].colour: unknown key"
    );
    assert!(
        rancher_err(
            "services:\n  lb:\n    lb_config:\n      port_rules:\n      - source_port: 80\n        service: nope\n"
        )
        .starts_with("rancher-compose.yml:5: services.lb.lb_config.port_rules[0].service: service \"nope\" is not in this stack"),
    );
    assert!(
        rancher_err("services:\n  lb:\n    load_balancer_config: {}\n")
            .starts_with("rancher-compose.yml:3: services.lb.load_balancer_config:"),
    );
    // The haproxy image without any port rules.
    let err = load(
        "demo",
        &[src(
            "docker-compose.yml",
            "services:\n  lb:\n    image: rancher/lb-service-haproxy\n",
        )],
        &no_vars(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with(
            "docker-compose.yml:2: services.lb.image: rancher/lb-service-haproxy is a load balancer"
        ),
        "{err}"
    );
    assert_eq!(
        load_err(
            "services:\n  lb:\n    labels:\n      io.corral.lb.rule.a: \"80 web\"\n  web:\n    image: w\n"
        ),
        "docker-compose.yml:4: services.lb.labels.io.corral.lb.rule.a: \"80 web\": no '->': use SOURCE_PORT[/PROTOCOL] [HOST][/PATH] -> SERVICE[:PORT] [priority=N] [backend=NAME]"
    );
    assert_eq!(
        load_err("services:\n  lb:\n    labels:\n      io.corral.lb.colour: red\n"),
        "docker-compose.yml:4: services.lb.labels.io.corral.lb.colour: unknown key"
    );
}
