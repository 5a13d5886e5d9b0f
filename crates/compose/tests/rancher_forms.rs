//! The Rancher 1.x forms that community-catalog templates use (issue 15):
//! the 1.0–1.5 balancer, `expose: HOST:CONTAINER`, capitalised service
//! names, duplicate keys, and `pid`/`ipc`/`uts: host`. Each loads, with a
//! warning naming `file:line: key` where Corral departs from the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use corral_compose::{export, load};
use corral_types::{LbProtocol, NamespaceMode, PortRule};

fn texts(loaded: &corral_compose::Loaded) -> Vec<String> {
    loaded.warnings.iter().map(ToString::to_string).collect()
}

fn has(warnings: &[String], start: &str) -> bool {
    warnings.iter().any(|w| w.starts_with(start))
}

#[test]
fn a_rancher_1_5_balancer_becomes_the_same_balancer_as_its_1_6_form() {
    let legacy = load_ok(&[
        file("lb-legacy/docker-compose.yml"),
        file("lb-legacy/rancher-compose.yml"),
    ]);
    let modern = load_ok(&[
        file("lb-legacy/docker-compose.v16.yml"),
        file("lb-legacy/rancher-compose.v16.yml"),
    ]);
    let lb = &legacy.services["lb"];
    let rules = &lb.lb.as_ref().expect("a balancer").port_rules;
    assert_eq!(
        rules[2],
        PortRule {
            source_port: 80,
            hostname: "api.example.com".into(),
            path: "/v1".into(),
            target_service: "api".into(),
            target_port: 9000,
            ..PortRule::default()
        }
    );
    assert_eq!(rules[1].protocol, LbProtocol::Https, "443 is an ssl port");
    assert_eq!(lb.image, "", "the balancer image is not run");
    assert!(lb.links.is_empty() && lb.health_check.is_none());
    assert!(lb.container_labels.is_empty(), "{:?}", lb.container_labels);
    // Same rules, ports, certificate, stickiness and scale as the 1.6 form.
    assert_eq!(legacy.services, modern.services);
}

#[test]
fn what_the_balancer_cannot_honour_is_a_warning_naming_file_line_and_key() {
    let loaded = load_ok(&[
        file("lb-legacy/docker-compose.yml"),
        file("lb-legacy/rancher-compose.yml"),
    ]);
    let w = texts(&loaded);
    assert!(
        has(
            &w,
            "rancher-compose.yml:7: services.lb.load_balancer_config.haproxy_config.global: \
             ignored: custom haproxy configuration"
        ),
        "{w:#?}"
    );
    assert!(
        !w.iter().any(|w| w.contains("haproxy_config.defaults")),
        "an empty section is honoured: {w:#?}"
    );
    assert!(
        has(
            &w,
            "docker-compose.yml:7: services.Admin: renamed \"admin\""
        ),
        "{w:#?}"
    );
}

#[test]
fn an_exposed_tcp_listener_is_published_with_a_warning_and_proxy_protocol_ignored() {
    let yaml = "\
db:
  image: mariadb:10
db-lb:
  image: docker.io/rancher/load-balancer-service:v0.1
  expose:
  - 3306:3307/tcp
  links:
  - db:db
  labels:
    io.rancher.loadbalancer.proxy-protocol.ports: '3306'
";
    let loaded = load_ok(&[src("docker-compose.yml", yaml)]);
    let lb = &loaded.services["db-lb"];
    assert_eq!(
        lb.lb.as_ref().unwrap().port_rules,
        [PortRule {
            source_port: 3306,
            protocol: LbProtocol::Tcp,
            target_service: "db".into(),
            target_port: 3307,
            ..PortRule::default()
        }]
    );
    assert_eq!(lb.ports[0].to_string(), "3306:3306/tcp");
    let w = texts(&loaded);
    assert!(
        has(
            &w,
            "docker-compose.yml:6: services.db-lb.expose[0]: \"3306:3307/tcp\": corral's balancer publishes port 3306"
        ),
        "{w:#?}"
    );
    assert!(
        has(
            &w,
            "docker-compose.yml:10: services.db-lb.labels.io.rancher.loadbalancer.proxy-protocol.ports: ignored"
        ),
        "{w:#?}"
    );
}

#[test]
fn a_balancer_exports_and_loads_back_as_the_same_service() {
    let loaded = load_ok(&[
        file("lb-legacy/docker-compose.yml"),
        file("lb-legacy/rancher-compose.yml"),
    ]);
    assert_round_trip("demo", &loaded);
}

#[test]
fn bad_legacy_balancers_fail_naming_file_line_and_key() {
    let lb = |body: &str| {
        format!("web:\n  image: a\nlb:\n  image: rancher/load-balancer-service\n{body}")
    };
    assert_eq!(
        load_err(&lb("  ports:\n  - 53:53/udp\n  links:\n  - web\n")),
        "docker-compose.yml:6: services.lb.ports[0]: \"53:53/udp\": udp load balancing is not supported"
    );
    assert_eq!(
        load_err(&lb(
            "  ports:\n  - 80:80\n  links:\n  - web\n  labels:\n    io.rancher.loadbalancer.target.web: a.com:81=80\n"
        )),
        "docker-compose.yml:10: services.lb.labels.io.rancher.loadbalancer.target.web: \"a.com:81=80\": the balancer does not listen on that port"
    );
    assert_eq!(
        load_err(&lb("  links:\n  - web\n")),
        "docker-compose.yml:3: services.lb.ports: a rancher/load-balancer-service needs ports (or expose) to listen on"
    );
    let err = load_err(&lb(
        "  ports:\n  - 80:80\n  labels:\n    io.rancher.loadbalancer.target.nope: '80=80'\n",
    ));
    assert!(
        err.starts_with("docker-compose.yml:8: services.lb.labels.io.rancher.loadbalancer.target.nope: service \"nope\" is not in this stack"),
        "{err}"
    );
    let overlay = "web:\n  load_balancer_config: {}\n";
    let err = load(
        "demo",
        &[
            src("docker-compose.yml", "web:\n  image: a\n"),
            src("rancher-compose.yml", overlay),
        ],
        &no_vars(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("rancher-compose.yml:2: services.web.load_balancer_config: load_balancer_config is for a service running rancher/load-balancer-service"),
        "{err}"
    );
}

#[test]
fn expose_host_container_exposes_the_container_port_with_a_warning() {
    let loaded = load_ok(&[src(
        "docker-compose.yml",
        "api:\n  image: a\n  expose:\n  - \"9010:9011\"\n  - 80\n",
    )]);
    let ports: Vec<String> = loaded.services["api"]
        .ports
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(ports, ["9011/tcp", "80/tcp"]);
    let w = texts(&loaded);
    assert!(
        has(
            &w,
            "docker-compose.yml:4: services.api.expose[0]: \"9010:9011\": the host part \"9010\" is ignored"
        ),
        "{w:#?}"
    );
}

#[test]
fn capitalised_service_names_are_lower_cased_with_every_reference() {
    let loaded = load_ok(&[file("rancher-capitals.yml")]);
    let names: Vec<&String> = loaded.services.keys().collect();
    assert_eq!(names, ["cmsmysql", "minecraft", "minecraftlb"]);
    let mc = &loaded.services["minecraft"];
    assert_eq!(mc.links[0].service, "cmsmysql");
    assert_eq!(
        mc.links[0].alias, "CMSMysql",
        "DNS finds the alias in any case"
    );
    assert_eq!(mc.depends_on[0].service, "cmsmysql");
    assert_eq!(mc.sidekicks[0].name, "minecraftdata");
    assert_eq!(mc.volumes_from, ["minecraftdata"]);
    let lb = loaded.services["minecraftlb"].lb.as_ref().unwrap();
    assert_eq!(lb.port_rules[0].target_service, "minecraft");
    let w = texts(&loaded);
    for (line, name) in [(2, "CMSMysql"), (4, "Minecraft"), (14, "MinecraftData")] {
        let start = format!(
            "rancher-capitals.yml:{line}: services.{name}: renamed \"{}\"",
            name.to_ascii_lowercase()
        );
        assert!(has(&w, &start), "{start}: {w:#?}");
    }
    assert_round_trip("demo", &loaded);
}

#[test]
fn two_names_differing_only_in_case_are_an_error() {
    assert_eq!(
        load_err("Web:\n  image: a\nweb:\n  image: b\n"),
        "docker-compose.yml:3: services.web: \"web\" and \"Web\" differ only in case: service \
         names are DNS names, compared without case"
    );
}

#[test]
fn a_duplicate_key_keeps_the_last_value_and_names_both_lines() {
    let loaded = load_ok(&[file("duplicate-keys.yml")]);
    let server = &loaded.services["server"];
    assert_eq!(server.container_labels.len(), 1);
    assert_eq!(server.container_labels["tier"], "ci");
    let w = texts(&loaded);
    assert!(
        has(
            &w,
            "duplicate-keys.yml:8: server.labels: duplicate key (also on line 4): the value on line 8 is used"
        ),
        "{w:#?}"
    );
}

#[test]
fn host_pid_ipc_and_uts_are_kept_and_exported() {
    let loaded = load_ok(&[file("host-namespaces.yml")]);
    let probe = &loaded.services["probe"];
    assert_eq!(probe.pid_mode, NamespaceMode::Host);
    assert_eq!(probe.ipc_mode, NamespaceMode::Host);
    assert_eq!(probe.uts_mode, NamespaceMode::Host);
    let files = export("demo", &loaded.services, &loaded.volumes);
    let text = &files[0].content;
    for key in ["pid: host", "ipc: host", "uts: host"] {
        assert!(text.contains(key), "{key}: {text}");
    }
    assert_round_trip("demo", &loaded);
    let plain = load_ok(&[src(
        "docker-compose.yml",
        "services:\n  a:\n    image: a\n    pid: ''\n",
    )]);
    assert_eq!(plain.services["a"].pid_mode, NamespaceMode::Private);
    assert!(
        load_err("services:\n  a:\n    image: a\n    ipc: container:b\n")
            .starts_with("docker-compose.yml:4: services.a.ipc: \"container:b\" is not supported")
    );
}

#[test]
fn unknown_affinity_kinds_and_certificates_off_a_balancer_are_ignored_with_a_warning() {
    let compose = "\
web:
  image: a
  labels:
    io.rancher.scheduler.affinity:not_host_label: lb=0
    io.rancher.scheduler.affinity:host_label: zone=a
";
    let overlay = "web:\n  default_cert: main\n";
    let loaded = load(
        "demo",
        &[
            src("docker-compose.yml", compose),
            src("rancher-compose.yml", overlay),
        ],
        &no_vars(),
    )
    .unwrap();
    assert_eq!(loaded.services["web"].placement.rules.len(), 1);
    let w = texts(&loaded);
    assert!(
        has(
            &w,
            "docker-compose.yml:4: services.web.labels.io.rancher.scheduler.affinity:not_host_label: \
             ignored: unknown affinity \"not_host_label\""
        ),
        "{w:#?}"
    );
    assert!(
        has(
            &w,
            "rancher-compose.yml:2: services.web.default_cert: ignored: certificates are for load balancers"
        ),
        "{w:#?}"
    );
}
