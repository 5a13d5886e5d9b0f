//! `corral stack deploy NAME -f FILE...`: sends compose files and their
//! variables to the server, and prints the plan it answers with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::bail;
use corral_api::{Client, DeployRequest};
use corral_types::SourceFile;

use crate::args::DeployArgs;
use crate::config::process_env;
use crate::errors::object_error;
use crate::output::{Format, ObjectFormat, print, render_object};

/// Compose files looked for when no `-f` is given, the first found used.
const DEFAULT_COMPOSE: [&str; 4] = [
    "docker-compose.yml",
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
];
/// Added after the compose file when present and no `-f` is given.
const DEFAULT_RANCHER: &str = "rancher-compose.yml";

/// Reads a variable of the process environment; tests pass their own.
type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) async fn run(client: &Client, env: &str, args: &DeployArgs) -> anyhow::Result<()> {
    let paths = compose_paths(&args.files, Path::new(""))?;
    let files = paths
        .iter()
        .map(|p| read_source(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let dotenv = match paths.first() {
        Some(first) => read_dotenv(first)?,
        None => None,
    };
    let env_file = args.env_file.as_deref().map(read_source).transpose()?;
    let referenced = corral_compose::referenced_variables(&files);
    let variables = resolve_variables(
        dotenv.as_ref(),
        env_file.as_ref(),
        &referenced,
        &process_env,
    )?;
    let values = super::file_values::read(&paths, &files, &variables, &process_env, args.dry_run)?;
    let request = DeployRequest {
        files,
        variables,
        dry_run: args.dry_run,
        secrets: values.secrets,
        configs: values.configs,
    };
    let plan = client
        .deploy_stack(env, &args.name, &request)
        .await
        .map_err(|e| object_error(e, "deploy", "stack", env, &args.name))?;
    let text = match args.output {
        Format::Table => super::plan::render_plan(&plan, &args.name),
        Format::Json => render_object(&plan, ObjectFormat::Json)?,
        Format::Yaml => render_object(&plan, ObjectFormat::Yaml)?,
    };
    print(&text)?;
    if args.wait.wait && !args.dry_run {
        let scope = crate::wait::Scope::Stack(&args.name);
        crate::wait::services(client, env, scope, args.wait.timeout).await?;
    }
    Ok(())
}

/// The files given, or the default ones found in `dir`: the first of
/// [`DEFAULT_COMPOSE`], then [`DEFAULT_RANCHER`] if present.
pub(super) fn compose_paths(given: &[PathBuf], dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let Some(compose) = DEFAULT_COMPOSE
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
    else {
        bail!(
            "no compose file given (-f) and none of {} in {}",
            DEFAULT_COMPOSE.join(", "),
            if dir.as_os_str().is_empty() {
                "the current directory".to_string()
            } else {
                dir.display().to_string()
            }
        );
    };
    let mut paths = vec![compose];
    let rancher = dir.join(DEFAULT_RANCHER);
    if rancher.is_file() {
        paths.push(rancher);
    }
    Ok(paths)
}

/// A file as the server wants it, named by the path as given.
pub(super) fn read_source(path: &Path) -> anyhow::Result<SourceFile> {
    match std::fs::read_to_string(path) {
        Ok(content) => Ok(SourceFile {
            name: path.display().to_string(),
            content,
        }),
        Err(e) => bail!("cannot read {}: {e}", path.display()),
    }
}

/// The `.env` file next to the first compose file, if there is one.
pub(super) fn read_dotenv(first_compose: &Path) -> anyhow::Result<Option<SourceFile>> {
    let path = first_compose
        .parent()
        .unwrap_or_else(|| Path::new(""))
        .join(".env");
    if !path.exists() {
        return Ok(None);
    }
    read_source(&path).map(Some)
}

/// The variables to interpolate with: `.env`, overridden by `--env-file`,
/// overridden by the process environment for every variable the compose
/// files refer to (as with docker compose, the shell wins).
pub(super) fn resolve_variables(
    dotenv: Option<&SourceFile>,
    env_file: Option<&SourceFile>,
    referenced: &BTreeSet<String>,
    lookup: Lookup<'_>,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut variables = BTreeMap::new();
    for file in [dotenv, env_file].into_iter().flatten() {
        let parsed = corral_compose::parse_env_file(&file.name, &file.content)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        variables.extend(parsed);
    }
    for name in referenced {
        if let Some(value) = lookup(name) {
            variables.insert(name.clone(), value);
        }
    }
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, content: &str) -> SourceFile {
        SourceFile {
            name: name.into(),
            content: content.into(),
        }
    }

    fn names(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn variables_shell_beats_env_file_beats_dotenv() {
        let dotenv = source(".env", "A=dotenv\nB=dotenv\nC=dotenv\nD=dotenv\n");
        let env_file = source("prod.env", "B=file\nC=file\n");
        let shell = |k: &str| match k {
            "C" | "E" | "UNREFERENCED" => Some(format!("shell-{k}")),
            _ => None,
        };
        let vars = resolve_variables(
            Some(&dotenv),
            Some(&env_file),
            &names(&["A", "C", "E", "F"]),
            &shell,
        )
        .unwrap();
        let got: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            [
                ("A", "dotenv"),
                ("B", "file"),
                ("C", "shell-C"),
                ("D", "dotenv"),
                ("E", "shell-E"),
            ]
        );
    }

    #[test]
    fn an_empty_shell_variable_still_wins() {
        let dotenv = source(".env", "A=dotenv\n");
        let shell = |_: &str| Some(String::new());
        let vars = resolve_variables(Some(&dotenv), None, &names(&["A"]), &shell).unwrap();
        assert_eq!(vars.get("A").map(String::as_str), Some(""));
    }

    #[test]
    fn no_sources_no_variables() {
        let vars = resolve_variables(None, None, &names(&["A"]), &|_| None).unwrap();
        assert!(vars.is_empty());
    }

    #[test]
    fn a_bad_env_file_is_named_with_its_line() {
        let bad = source("prod.env", "A=1\nnot a variable\n");
        let e = resolve_variables(None, Some(&bad), &BTreeSet::new(), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("prod.env:2:"), "{e}");
    }

    #[test]
    fn default_files_are_found_in_order_with_rancher_compose() {
        let dir = tempfile::tempdir().unwrap();
        let e = compose_paths(&[], dir.path()).unwrap_err().to_string();
        assert!(e.contains("docker-compose.yml") && e.contains("-f"), "{e}");
        std::fs::write(dir.path().join("docker-compose.yaml"), "").unwrap();
        std::fs::write(dir.path().join("compose.yml"), "").unwrap();
        assert_eq!(
            compose_paths(&[], dir.path()).unwrap(),
            [dir.path().join("compose.yml")]
        );
        std::fs::write(dir.path().join("docker-compose.yml"), "").unwrap();
        std::fs::write(dir.path().join("rancher-compose.yml"), "").unwrap();
        assert_eq!(
            compose_paths(&[], dir.path()).unwrap(),
            [
                dir.path().join("docker-compose.yml"),
                dir.path().join("rancher-compose.yml")
            ]
        );
        let given = [PathBuf::from("x.yml")];
        assert_eq!(compose_paths(&given, dir.path()).unwrap(), given);
    }

    #[test]
    fn files_are_named_as_given_and_unreadable_ones_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker-compose.yml");
        std::fs::write(&path, "services: {}\n").unwrap();
        let f = read_source(&path).unwrap();
        assert_eq!(f.name, path.display().to_string());
        assert_eq!(f.content, "services: {}\n");
        let missing = dir.path().join("nope.yml");
        let e = read_source(&missing).unwrap_err().to_string();
        assert!(e.contains("cannot read") && e.contains("nope.yml"), "{e}");
    }

    #[test]
    fn dotenv_is_read_next_to_the_first_compose_file() {
        let dir = tempfile::tempdir().unwrap();
        let compose = dir.path().join("docker-compose.yml");
        assert_eq!(read_dotenv(&compose).unwrap(), None);
        std::fs::write(dir.path().join(".env"), "A=1\n").unwrap();
        let found = read_dotenv(&compose).unwrap().unwrap();
        assert_eq!(found.name, dir.path().join(".env").display().to_string());
        assert_eq!(found.content, "A=1\n");
    }
}
