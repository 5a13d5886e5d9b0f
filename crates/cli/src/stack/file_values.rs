//! The values of a stack's own secrets and configs, read by the CLI and
//! sent with the deploy: `file:` relative to the compose file,
//! `environment:` from the CLI's environment. External ones send nothing,
//! nor does a config's `content:` (it is in the file). A dry run tolerates
//! a value it cannot read (the server's plan says it is missing); a deploy
//! refuses it, naming the file, line and key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_compose::{FileSource, StackFile};
use corral_types::{MAX_SECRET_BYTES, SourceFile};

/// Values by their key in the compose file, base64.
#[derive(Debug, Default)]
pub(super) struct Values {
    pub secrets: BTreeMap<String, String>,
    pub configs: BTreeMap<String, String>,
}

pub(super) fn read(
    paths: &[PathBuf],
    files: &[SourceFile],
    variables: &BTreeMap<String, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    dry_run: bool,
) -> anyhow::Result<Values> {
    // A file that does not load is the server's to explain.
    let Ok(loaded) = corral_compose::load("cli", files, variables) else {
        return Ok(Values::default());
    };
    let compose_name = files.first().map(|f| f.name.as_str()).unwrap_or("compose");
    let dir = paths
        .first()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let section = |name: &str, declared: &BTreeMap<String, StackFile>| {
        read_section(&dir, compose_name, name, declared, lookup, dry_run)
    };
    Ok(Values {
        secrets: section("secrets", &loaded.secrets)?,
        configs: section("configs", &loaded.configs)?,
    })
}

fn read_section(
    dir: &Path,
    compose_name: &str,
    section: &str,
    declared: &BTreeMap<String, StackFile>,
    lookup: &dyn Fn(&str) -> Option<String>,
    dry_run: bool,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, decl) in declared {
        let at = format!("{compose_name}:{}: {section}.{key}", decl.line);
        let value = match &decl.source {
            FileSource::External | FileSource::Content(_) => continue,
            FileSource::File(rel) => {
                let path = dir.join(rel);
                match std::fs::read(&path) {
                    Ok(v) => v,
                    Err(_) if dry_run => continue,
                    Err(e) => anyhow::bail!("{at}.file: cannot read {}: {e}", path.display()),
                }
            }
            FileSource::Environment(var) => match lookup(var) {
                Some(v) => v.into_bytes(),
                None if dry_run => continue,
                None => anyhow::bail!("{at}.environment: variable {var} is not set"),
            },
        };
        if value.len() > MAX_SECRET_BYTES {
            anyhow::bail!("{at}: the value is larger than {MAX_SECRET_BYTES} bytes");
        }
        out.insert(key.clone(), B64.encode(value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPOSE: &str = "\
services:
  db:
    image: mariadb
    secrets: [db-password, token, shared]
    configs: [app, motd]
configs:
  app:
    file: conf/app.ini
  motd:
    content: hello
secrets:
  db-password:
    file: db/password.txt
  token:
    environment: API_TOKEN
  shared:
    external: true
";

    fn files() -> Vec<SourceFile> {
        vec![SourceFile {
            name: "compose.yaml".into(),
            content: COMPOSE.into(),
        }]
    }

    #[test]
    fn values_are_read_beside_the_compose_file_and_from_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("db")).unwrap();
        std::fs::write(tmp.path().join("db/password.txt"), "s3cret\n").unwrap();
        let paths = vec![tmp.path().join("compose.yaml")];
        let env = |v: &str| (v == "API_TOKEN").then(|| "tok".to_string());
        std::fs::create_dir(tmp.path().join("conf")).unwrap();
        std::fs::write(tmp.path().join("conf/app.ini"), "[app]\n").unwrap();
        let got = read(&paths, &files(), &BTreeMap::new(), &env, false).unwrap();
        let secrets = &got.secrets;
        assert_eq!(
            secrets.len(),
            2,
            "external secrets send nothing: {secrets:?}"
        );
        assert_eq!(B64.decode(&secrets["db-password"]).unwrap(), b"s3cret\n");
        assert_eq!(B64.decode(&secrets["token"]).unwrap(), b"tok");
        let configs = &got.configs;
        assert_eq!(configs.len(), 1, "content: sends nothing: {configs:?}");
        assert_eq!(B64.decode(&configs["app"]).unwrap(), b"[app]\n");
    }

    #[test]
    fn a_missing_file_fails_a_deploy_naming_it_but_not_a_dry_run() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = vec![tmp.path().join("compose.yaml")];
        let env = |_: &str| None;
        let err = read(&paths, &files(), &BTreeMap::new(), &env, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("compose.yaml:12: secrets.db-password.file: cannot read"),
            "{err}"
        );
        let got = read(&paths, &files(), &BTreeMap::new(), &env, true).unwrap();
        assert!(got.secrets.is_empty() && got.configs.is_empty());
    }
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn a_missing_config_file_fails_a_deploy_naming_file_line_and_key() {
        let compose = "services:\n  web:\n    image: x\n    configs: [app]\nconfigs:\n  app:\n    file: missing/app.ini\n";
        let files = vec![SourceFile {
            name: "compose.yaml".into(),
            content: compose.into(),
        }];
        let tmp = tempfile::tempdir().unwrap();
        let paths = vec![tmp.path().join("compose.yaml")];
        let err = read(&paths, &files, &BTreeMap::new(), &|_| None, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("compose.yaml:6: configs.app.file: cannot read"),
            "{err}"
        );
        assert!(err.contains("missing/app.ini"), "{err}");
    }
}
