//! Compose `secrets:`: declarations, short and long mounts, Swarm's names,
//! and the export that writes them back as references, never values.

mod common;

use common::*;
use corral_compose::SecretSource;

const CORPUS_LIKE: &str = "\
services:
  db:
    image: mariadb
    secrets:
      - db-password
    environment:
      - MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db-password
  backend:
    image: backend
    secrets:
      - source: db-password
        target: /etc/app/db.pw
        uid: '103'
        gid: '103'
        mode: 0440
      - api-key
secrets:
  db-password:
    file: db/password.txt
  api-key:
    external: true
    name: shared-api-key
";

#[test]
fn a_stacks_own_secret_is_named_after_the_stack_and_mounted_at_its_key() {
    let loaded = load_ok(&[src("compose.yaml", CORPUS_LIKE)]);
    let db = &loaded.services["db"].secrets;
    assert_eq!(db.len(), 1);
    assert_eq!(db[0].source, "demo_db-password");
    assert_eq!(db[0].container_path(), "/run/secrets/db-password");
    let backend = &loaded.services["backend"].secrets;
    assert_eq!(backend[0].container_path(), "/etc/app/db.pw");
    assert_eq!(
        (backend[0].uid, backend[0].gid, backend[0].mode),
        (Some(103), Some(103), Some(0o440))
    );
    assert_eq!(backend[1].source, "shared-api-key");
    assert_eq!(backend[1].container_path(), "/run/secrets/api-key");
    assert_eq!(
        loaded.secrets["db-password"].source,
        SecretSource::File("db/password.txt".into())
    );
    assert_eq!(loaded.secrets["api-key"].source, SecretSource::External);
    assert_eq!(loaded.secrets["api-key"].name, "shared-api-key");
}

#[test]
fn export_writes_secrets_back_as_external_references_and_loads_to_the_same_services() {
    let loaded = load_ok(&[src("compose.yaml", CORPUS_LIKE)]);
    let files = assert_round_trip("demo", &loaded);
    let text = &files[0].content;
    assert!(text.contains("demo_db-password"), "{text}");
    assert!(text.contains("external: true"), "{text}");
    assert!(!text.contains("password.txt"), "{text}");
}

#[test]
fn a_mount_of_an_undeclared_secret_names_its_line() {
    let err = load_err("services:\n  web:\n    image: x\n    secrets:\n      - nope\n");
    assert!(
        err.starts_with("docker-compose.yml:5: services.web.secrets[0]:"),
        "{err}"
    );
    assert!(err.contains("not declared"), "{err}");
}

#[test]
fn a_declaration_needs_exactly_one_source() {
    let both = "services:\n  web:\n    image: x\nsecrets:\n  s:\n    file: a\n    external: true\n";
    assert!(load_err(both).contains("exclude each other"));
    let none = "services:\n  web:\n    image: x\nsecrets:\n  s: {}\n";
    assert!(load_err(none).contains("one of file:"));
}

#[test]
fn a_bad_mode_or_id_is_refused_naming_the_key() {
    let yaml = |extra: &str| {
        format!(
            "services:\n  web:\n    image: x\n    secrets:\n      - source: s\n        {extra}\nsecrets:\n  s:\n    file: a\n"
        )
    };
    let err = load_err(&yaml("mode: 0999"));
    assert!(err.contains("services.web.secrets[0].mode"), "{err}");
    let err = load_err(&yaml("uid: root"));
    assert!(err.contains("services.web.secrets[0].uid"), "{err}");
    let err = load_err(&yaml("target: ../../etc/passwd"));
    assert!(err.contains("secrets[0].target"), "{err}");
}

#[test]
fn a_secret_delivered_as_an_environment_variable_round_trips_through_export() {
    let yaml = "\
services:
  db:
    image: mariadb
    secrets:
      - source: pw
        x-corral-env: MYSQL_PASSWORD
secrets:
  pw:
    external: true
    name: shop_db_password
";
    let loaded = load_ok(&[src("compose.yaml", yaml)]);
    let db = &loaded.services["db"].secrets;
    assert_eq!(db[0].env, "MYSQL_PASSWORD");
    assert_eq!(db[0].target, "");
    assert_eq!(db[0].container_path(), "env:MYSQL_PASSWORD");
    let files = assert_round_trip("demo", &loaded);
    let text = &files[0].content;
    assert!(text.contains("x-corral-env: MYSQL_PASSWORD"), "{text}");
}
