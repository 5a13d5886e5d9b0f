//! Every rejection names file, line and key; every ignored key is a warning.

mod common;

use common::*;
use corral_compose::load;
use proptest::prelude::*;

#[test]
fn unknown_keys_are_errors_with_file_line_and_key() {
    assert_eq!(
        load_err("services:\n  web:\n    image: a\n    colour: red\n"),
        "docker-compose.yml:4: services.web.colour: unknown key"
    );
    assert_eq!(
        load_err("services: {}\nbogus: 1\n"),
        "docker-compose.yml:2: bogus: unknown key"
    );
}

#[test]
fn unsupported_keys_are_errors_naming_the_key() {
    for (yaml, key) in [
        (
            "services:\n  web:\n    image: a\n    profiles: [debug]\n",
            "docker-compose.yml:4: services.web.profiles:",
        ),
        (
            "services:\n  web:\n    image: a\n    devices: [/dev/fuse]\n",
            "docker-compose.yml:4: services.web.devices:",
        ),
        (
            "services:\n  web:\n    image: a\ninclude:\n  - other.yaml\n",
            "docker-compose.yml:4: include:",
        ),
        (
            "services:\n  web:\n    build: .\n",
            "docker-compose.yml:3: services.web.build: corral never builds",
        ),
        (
            "services:\n  web:\n    image: a\n    network_mode: overlay\n",
            "docker-compose.yml:4: services.web.network_mode:",
        ),
        (
            "services:\n  web:\n    image: a\n    volumes_from: [db]\n  db:\n    image: b\n",
            "docker-compose.yml:4: services.web.volumes_from:",
        ),
        (
            "services:\n  web:\n    image: a\n    deploy:\n      placement:\n        constraints: [engine.labels.os == linux]\n",
            "docker-compose.yml:6: services.web.deploy.placement.constraints[0]:",
        ),
    ] {
        let err = load_err(yaml);
        assert!(err.starts_with(key), "{err:?} does not start with {key:?}");
    }
}

#[test]
fn lb_config_without_port_rules_is_an_error_naming_the_key() {
    let files = [
        src(
            "docker-compose.yml",
            "services:\n  lb:\n    image: rancher/lb-service-haproxy\n",
        ),
        src(
            "rancher-compose.yml",
            "services:\n  lb:\n    lb_config:\n      port_rules: []\n",
        ),
    ];
    let err = load("demo", &files, &no_vars()).unwrap_err().to_string();
    assert_eq!(
        err,
        "rancher-compose.yml:4: services.lb.lb_config.port_rules: a load balancer needs at least one port rule"
    );
}

#[test]
fn references_must_resolve() {
    assert_eq!(
        load_err("services:\n  web:\n    image: a\n    volumes: [data:/data]\n"),
        "docker-compose.yml:4: services.web.volumes[0]: volume \"data\" is not declared under the top-level volumes key"
    );
    assert!(
        load_err("services:\n  web:\n    image: a\n    networks: [back]\n")
            .contains("network \"back\" is not declared")
    );
    assert!(
        load_err("services:\n  web:\n    image: a\n    depends_on: [db]\n")
            .starts_with("docker-compose.yml:2: services.web.depends_on: service \"db\"")
    );
    assert!(
        load_err("services:\n  web:\n    image: a\n    env_file: .env\n").starts_with(
            "docker-compose.yml:4: services.web.env_file: env file \".env\" cannot be read"
        )
    );
}

#[test]
fn required_variable_error_names_variable_file_and_line() {
    assert_eq!(
        load_err("services:\n  web:\n    image: \"a:${TAG:?set the tag}\"\n"),
        "docker-compose.yml:3: services.web.image: required variable TAG is not set: set the tag"
    );
}

#[test]
fn duplicate_host_ports_fail_validation_at_the_service() {
    assert_eq!(
        load_err("services:\n  web:\n    image: a\n    ports: [\"80:80\", \"80:81\"]\n"),
        "docker-compose.yml:2: services.web.ports[1].host_port: 80/tcp is published twice"
    );
}

#[test]
fn bad_values_name_the_key() {
    assert!(
        load_err("services:\n  web:\n    image: a\n    restart: sometimes\n")
            .starts_with("docker-compose.yml:4: services.web.restart:")
    );
    assert!(
        load_err("services:\n  web:\n    image: a\n    mem_limit: lots\n")
            .starts_with("docker-compose.yml:4: services.web.mem_limit:")
    );
    assert!(
        load_err("services:\n  web:\n    image: a\n    healthcheck:\n      test: [CMD]\n")
            .starts_with("docker-compose.yml:5: services.web.healthcheck.test:")
    );
    assert!(load_err("version: '1'\nservices: {}\n").starts_with("docker-compose.yml:1: version:"));
    assert!(load_err("services:\n  web:\n    image: a\n    labels:\n      io.rancher.scheduler.affinity:host_label: nolabel\n").starts_with("docker-compose.yml:5: services.web.labels.io.rancher.scheduler.affinity:host_label:"));
    assert!(load_err("services:\n  web:\n    image: [a\n").starts_with("docker-compose.yml:"));
    assert!(load_err("").starts_with("docker-compose.yml:0: services: the compose file is empty"));
}

#[test]
fn harmless_keys_are_warnings() {
    let w = warnings(
        "services:\n  web:\n    image: a\n    container_name: web1\n    pull_policy: always\n    init: true\n    platform: linux/amd64\n    logging:\n      driver: json-file\n    build: .\n    restart: on-failure:3\n    deploy:\n      labels: [a=b]\n      update_config:\n        max_failure_ratio: 0.1\n      restart_policy:\n        condition: any\n        max_attempts: 3\n    mem_reservation: 64m\n    memswap_limit: 1g\n    cpu_shares: 512\nx-extra: 1\n",
    );
    for expected in [
        "docker-compose.yml:4: services.web.container_name: ignored: corral names containers",
        "docker-compose.yml:5: services.web.pull_policy: ignored",
        "docker-compose.yml:6: services.web.init: ignored",
        "docker-compose.yml:7: services.web.platform: ignored",
        "docker-compose.yml:8: services.web.logging: ignored",
        "docker-compose.yml:10: services.web.build: ignored: corral never builds",
        "docker-compose.yml:11: services.web.restart: ignored: the retry count 3",
        "docker-compose.yml:13: services.web.deploy.labels: ignored",
        "docker-compose.yml:15: services.web.deploy.update_config.max_failure_ratio: ignored",
        "docker-compose.yml:18: services.web.deploy.restart_policy.max_attempts: ignored",
        "docker-compose.yml:20: services.web.memswap_limit: ignored",
        "docker-compose.yml:21: services.web.cpu_shares: ignored",
    ] {
        assert!(
            w.iter().any(|w| w.starts_with(expected)),
            "no {expected:?} in {w:#?}"
        );
    }
}

#[test]
fn version_1_files_have_services_at_the_top() {
    let l = load_ok(&[src(
        "docker-compose.yml",
        "web:\n  image: a\n  volumes: [data:/data]\n  net: none\n",
    )]);
    assert_eq!(l.services["web"].image, "a");
    assert!(l.volumes.contains("data"));
}

#[test]
fn sidekicks_may_share_their_primary_network() {
    let yaml = "web:\n  image: a\n  labels:\n    io.rancher.sidekicks: helper\nhelper:\n  image: b\n  net: container:web\n";
    assert_eq!(
        load_ok(&[src("docker-compose.yml", yaml)]).services["web"].sidekicks[0].name,
        "helper"
    );
    let yaml = "web:\n  image: a\nother:\n  image: b\n  net: container:web\n";
    assert!(
        load_err(yaml).starts_with("docker-compose.yml:5: other.net:")
            || load_err(yaml).contains("services.other.net")
    );
}

#[test]
fn volumes_from_names_own_sidekicks_only() {
    let with = |from: &str, data_from: &str| {
        format!(
            "web:\n  image: a\n  labels:\n    io.rancher.sidekicks: data, log\n  volumes_from: [{from}]\ndata:\n  image: b\n  volumes_from: [{data_from}]\nlog:\n  image: b\nother:\n  image: c\n"
        )
    };
    let l = load_ok(&[src("docker-compose.yml", &with("data", ""))]);
    assert_eq!(l.services["web"].volumes_from, ["data"]);
    for (from, data_from, want) in [
        (
            "other",
            "",
            "docker-compose.yml:5: services.web.volumes_from:",
        ),
        (
            "container:data",
            "",
            "docker-compose.yml:5: services.web.volumes_from:",
        ),
        (
            "data",
            "web",
            "docker-compose.yml:8: services.data.volumes_from:",
        ),
        (
            "data",
            "log",
            "docker-compose.yml:8: services.data.volumes_from:",
        ),
    ] {
        let err = load_err(&with(from, data_from));
        assert!(err.starts_with(want), "{from} {data_from}: {err}");
    }
    // Between data sidekicks is fine.
    let yaml = with("data, log", "log");
    let l = load_ok(&[src("docker-compose.yml", &yaml)]);
    assert_eq!(l.services["web"].sidekicks[0].volumes_from, ["log"]);
    assert_round_trip("demo", &l);
}

const SEEDS: &[&str] = &[
    include_str!("fixtures/v2-sidekick.yml"),
    include_str!("fixtures/v3-deploy.yml"),
    include_str!("fixtures/spec-anchors.yml"),
    include_str!("fixtures/rancher/docker-compose.yml"),
    include_str!("fixtures/interpolation.yml"),
    include_str!("fixtures/rancher-data-sidekick.yml"),
];

fn check_no_panic(text: &str) {
    match load("demo", &[src("docker-compose.yml", text)], &no_vars()) {
        Ok(l) => {
            let _ = corral_compose::export("demo", &l.services, &l.volumes);
        }
        Err(e) => {
            let d = e.diagnostic();
            assert!(!d.key.is_empty() && !d.file.is_empty(), "{e}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(seed in 0..SEEDS.len(), at in any::<prop::sample::Index>(), cut in 0usize..40, insert in "[ -~\n]{0,12}") {
        let text = SEEDS[seed];
        let mut i = at.index(text.len());
        while !text.is_char_boundary(i) { i -= 1; }
        let mut end = (i + cut).min(text.len());
        while !text.is_char_boundary(end) { end -= 1; }
        let mutated = format!("{}{}{}", &text[..i], insert, &text[end..]);
        check_no_panic(&mutated);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\n\t]{0,200}") {
        check_no_panic(&text);
    }
}
