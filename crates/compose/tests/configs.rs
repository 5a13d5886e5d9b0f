//! Compose `configs:`: declarations (`file:`, `environment:`, `content:`,
//! `external:`, `name:`), short and long mounts with Swarm's default
//! target `/<key>`, absolute targets only, and the export that writes
//! them back as references.

mod common;

use common::*;
use corral_compose::FileSource;

const COMPOSE: &str = "\
services:
  web:
    image: nginx
    configs:
      - nginx.conf
      - source: site
        target: /usr/share/nginx/html/index.html
        uid: '101'
        gid: '101'
        mode: 0440
      - shared
      - banner
configs:
  nginx.conf:
    file: ./nginx/nginx.conf
  site:
    environment: SITE_HTML
  shared:
    external: true
    name: common-settings
  banner:
    content: |
      hello from ${GREETING:-corral}
";

#[test]
fn a_stacks_own_config_is_named_after_the_stack_and_mounted_at_slash_its_key() {
    let loaded = load_ok(&[src("compose.yaml", COMPOSE)]);
    let m = &loaded.services["web"].configs;
    assert_eq!(m.len(), 4);
    assert_eq!(m[0].source, "demo_nginx.conf");
    assert_eq!(m[0].container_path(), "/nginx.conf");
    assert_eq!(m[1].container_path(), "/usr/share/nginx/html/index.html");
    assert_eq!(
        (m[1].uid, m[1].gid, m[1].mode),
        (Some(101), Some(101), Some(0o440))
    );
    assert_eq!(m[2].source, "common-settings");
    assert_eq!(m[2].container_path(), "/shared");
    let c = &loaded.configs;
    assert_eq!(
        c["nginx.conf"].source,
        FileSource::File("./nginx/nginx.conf".into())
    );
    assert_eq!(
        c["site"].source,
        FileSource::Environment("SITE_HTML".into())
    );
    assert_eq!(c["shared"].source, FileSource::External);
    assert_eq!(
        c["banner"].source,
        FileSource::Content("hello from corral\n".into()),
        "content: is interpolated as the rest of the file"
    );
}

#[test]
fn export_writes_configs_back_as_external_references_and_loads_to_the_same_services() {
    let loaded = load_ok(&[src("compose.yaml", COMPOSE)]);
    let files = assert_round_trip("demo", &loaded);
    let text = &files[0].content;
    assert!(text.contains("configs:"), "{text}");
    assert!(text.contains("demo_nginx.conf"), "{text}");
    assert!(text.contains("external: true"), "{text}");
    assert!(!text.contains("nginx/nginx.conf"), "{text}");
    assert!(!text.contains("hello from"), "{text}");
}

#[test]
fn a_relative_or_escaping_target_is_refused_naming_the_line_and_field() {
    let yaml = |target: &str| {
        format!(
            "services:\n  web:\n    image: x\n    configs:\n      - source: c\n        target: {target}\nconfigs:\n  c:\n    file: a\n"
        )
    };
    let err = load_err(&yaml("etc/app.conf"));
    assert!(
        err.starts_with("docker-compose.yml:6: services.web.configs[0].target:"),
        "{err}"
    );
    assert!(err.contains("absolute path"), "{err}");
    let err = load_err(&yaml("/etc/../../passwd"));
    assert!(err.contains("configs[0].target"), "{err}");
}

#[test]
fn a_mount_of_an_undeclared_config_names_its_line() {
    let err = load_err("services:\n  web:\n    image: x\n    configs:\n      - nope\n");
    assert!(
        err.starts_with("docker-compose.yml:5: services.web.configs[0]:"),
        "{err}"
    );
    assert!(err.contains("config \"nope\" is not declared"), "{err}");
}

#[test]
fn a_declaration_needs_exactly_one_source_and_content_is_for_configs_only() {
    let both = "services:\n  web:\n    image: x\nconfigs:\n  c:\n    file: a\n    content: b\n";
    assert!(load_err(both).contains("exclude each other"));
    let none = "services:\n  web:\n    image: x\nconfigs:\n  c: {}\n";
    let err = load_err(none);
    assert!(err.starts_with("docker-compose.yml:5: configs.c:"), "{err}");
    assert!(err.contains("content:"), "{err}");
    let secret = "services:\n  web:\n    image: x\nsecrets:\n  s:\n    content: b\n";
    let err = load_err(secret);
    assert!(err.contains("secrets.s.content"), "{err}");
}

#[test]
fn a_sidekick_mounting_a_config_is_refused_naming_it() {
    let yaml = "services:\n  web:\n    image: x\n    labels:\n      io.rancher.sidekicks: log\n  log:\n    image: y\n    configs: [c]\nconfigs:\n  c:\n    content: x\n";
    let err = load_err(yaml);
    assert!(err.contains("services.log.configs"), "{err}");
}
