//! `corral catalog add|rm|refresh|sources|ls|show` and `corral app launch`.
//! The verbs follow Rancher 1.x's CLI, where `catalog ls` lists templates.

use std::collections::BTreeMap;

use corral_api::{AppInfo, AppUpgradeRequest, CatalogRequest, Client, LaunchRequest};
use corral_types::{Catalog, GLOBAL, TemplateInfo, VersionInfo};
use serde::Serialize;

use crate::args::{AppCmd, AppLaunchArgs, CatalogAddArgs, CatalogCmd, CatalogShowArgs};
use crate::errors::{for_each, request_error};
use crate::output::{Format, ObjectFormat, Row, print, print_rows, render_object};
use crate::typed::decode_all;

/// Where a catalog verb acts: the environment's own catalogs when `-E` was
/// given, else the global ones.
fn scope(env: &str, env_given: bool) -> Option<&str> {
    env_given.then_some(env)
}

pub(crate) async fn run(
    client: &Client,
    env: &str,
    env_given: bool,
    cmd: CatalogCmd,
) -> anyhow::Result<()> {
    let at = scope(env, env_given);
    match cmd {
        CatalogCmd::Add(args) => {
            let req = add_request(&args)?;
            client
                .create_catalog(at, &req)
                .await
                .map_err(|e| request_error(e, &format!("add catalog {:?}", args.name)))?;
            let raw = client
                .refresh_catalog(at, &args.name)
                .await
                .map_err(|e| request_error(e, &format!("refresh catalog {:?}", args.name)))?;
            report_refresh(raw)
        }
        CatalogCmd::Rm(args) => {
            for_each(&args.names, "remove catalog", |name| async move {
                client.remove_catalog(at, &name).await.map(drop)
            })
            .await
        }
        CatalogCmd::Refresh(args) => refresh(client, env, at, &args.names).await,
        CatalogCmd::Sources(args) => {
            let rows = source_rows(client, env).await?;
            print_rows(&rows, args.output)
        }
        CatalogCmd::Ls(args) => {
            let templates = client
                .templates(env, args.category.as_deref())
                .await
                .map_err(|e| request_error(e, "list templates"))?;
            let rows: Vec<TemplateRow> = templates.iter().map(TemplateRow::of).collect();
            print_rows(&rows, args.output)
        }
        CatalogCmd::Show(args) => show(client, env, &args).await,
    }
}

/// Refreshes the catalogs named (or every one `env` sees) and prints each
/// outcome; fails when any refresh failed.
async fn refresh(
    client: &Client,
    env: &str,
    at: Option<&str>,
    names: &[String],
) -> anyhow::Result<()> {
    let targets: Vec<(Option<String>, String)> = if names.is_empty() {
        source_rows(client, env)
            .await?
            .into_iter()
            .map(|r| ((r.scope != "global").then(|| r.scope.clone()), r.name))
            .collect()
    } else {
        names
            .iter()
            .map(|n| (at.map(str::to_string), n.clone()))
            .collect()
    };
    let mut failed = Vec::new();
    for (scope, name) in targets {
        let raw = client
            .refresh_catalog(scope.as_deref(), &name)
            .await
            .map_err(|e| request_error(e, &format!("refresh catalog {name:?}")))?;
        if let Err(e) = report_refresh(raw) {
            failed.push(e.to_string());
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", failed.join("; "))
    }
}

/// `NAME: N templates at COMMIT`, the template errors below, and an error
/// when the fetch failed.
fn report_refresh(raw: corral_types::RawObject) -> anyhow::Result<()> {
    let catalog: Vec<Catalog> = decode_all(vec![raw], "catalog")?;
    let Some(c) = catalog.into_iter().next() else {
        return Ok(());
    };
    let name = &c.meta.name;
    if let Some(e) = &c.status.error {
        anyhow::bail!("catalog {name:?}: {e}");
    }
    let commit: String = c
        .status
        .commit
        .as_deref()
        .unwrap_or("")
        .chars()
        .take(12)
        .collect();
    let mut text = format!("{name}: {} templates at {commit}\n", c.status.templates);
    for e in &c.status.template_errors {
        text.push_str(&format!("  error: {e}\n"));
    }
    print(&text)
}

#[derive(Debug, Serialize)]
struct SourceRow {
    name: String,
    /// `global`, or the environment.
    scope: String,
    url: String,
    branch: String,
    /// `password` (https) or `ssh-key`, when the repository is private.
    #[serde(skip_serializing_if = "String::is_empty")]
    auth: String,
    commit: String,
    refreshed: String,
    templates: usize,
    errors: Vec<String>,
}

impl Row for SourceRow {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "SCOPE",
        "URL",
        "BRANCH",
        "AUTH",
        "COMMIT",
        "REFRESHED",
        "TEMPLATES",
        "ERRORS",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.scope.clone(),
            self.url.clone(),
            self.branch.clone(),
            self.auth.clone(),
            self.commit.chars().take(12).collect(),
            self.refreshed.clone(),
            self.templates.to_string(),
            self.errors.join("; "),
        ]
    }
}

/// The global catalogs and `env`'s own.
async fn source_rows(client: &Client, env: &str) -> anyhow::Result<Vec<SourceRow>> {
    let mut rows = Vec::new();
    for at in [None, Some(env)] {
        let list = client
            .catalogs(at)
            .await
            .map_err(|e| request_error(e, "list catalogs"))?;
        let catalogs: Vec<Catalog> = decode_all(list.items, "catalog")?;
        for c in catalogs {
            let mut errors: Vec<String> = c.status.error.iter().cloned().collect();
            errors.extend(c.status.template_errors.iter().cloned());
            rows.push(SourceRow {
                scope: if c.meta.environment == GLOBAL {
                    "global".into()
                } else {
                    c.meta.environment.clone()
                },
                name: c.meta.name,
                url: c.spec.url,
                branch: c.spec.branch.unwrap_or_default(),
                auth: match c.spec.auth {
                    corral_types::CatalogAuth::None => String::new(),
                    corral_types::CatalogAuth::Password => {
                        format!("password ({})", c.spec.username)
                    }
                    corral_types::CatalogAuth::SshKey => "ssh-key".into(),
                },
                commit: c.status.commit.unwrap_or_default(),
                refreshed: c.status.refreshed_at.unwrap_or_default(),
                templates: c.status.templates,
                errors,
            });
        }
    }
    Ok(rows)
}

#[derive(Debug, Serialize)]
struct TemplateRow {
    id: String,
    name: String,
    category: String,
    version: String,
    versions: Vec<String>,
    infra: bool,
    description: String,
}

impl TemplateRow {
    fn of(t: &TemplateInfo) -> TemplateRow {
        let default = t.versions.iter().find(|v| v.folder == t.default_version);
        TemplateRow {
            id: t.id.clone(),
            name: t.name.clone(),
            category: t.category.clone(),
            version: default.map(|v| v.meta.version.clone()).unwrap_or_default(),
            versions: t.versions.iter().map(|v| v.folder.clone()).collect(),
            infra: t.infra,
            description: t.description.lines().next().unwrap_or("").to_string(),
        }
    }
}

impl Row for TemplateRow {
    const HEADERS: &'static [&'static str] = &[
        "TEMPLATE",
        "NAME",
        "CATEGORY",
        "VERSION",
        "FOLDERS",
        "DESCRIPTION",
    ];
    fn cells(&self) -> Vec<String> {
        let mut category = self.category.clone();
        if self.infra {
            category.push_str(" (infra)");
        }
        vec![
            self.id.clone(),
            self.name.clone(),
            category,
            self.version.clone(),
            self.versions.join(","),
            self.description.chars().take(60).collect(),
        ]
    }
}

/// `TEMPLATE[:VERSION]` to the template's catalog and folder, through the
/// list when the catalog is left out.
async fn locate(
    client: &Client,
    env: &str,
    reference: &str,
) -> anyhow::Result<(TemplateInfo, Option<String>)> {
    let (name, version) = match reference.rsplit_once(':') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (reference, None),
    };
    let (catalog, folder) = match name.split_once('/') {
        Some((c, f)) => (c.to_string(), f.to_string()),
        None => {
            let all = client
                .templates(env, None)
                .await
                .map_err(|e| request_error(e, "list templates"))?;
            let found: Vec<&TemplateInfo> = all.iter().filter(|t| t.folder == name).collect();
            match found.as_slice() {
                [one] => (one.catalog.clone(), one.folder.clone()),
                [] => anyhow::bail!("no template {name:?} in any catalog (see corral catalog ls)"),
                many => {
                    let ids: Vec<&str> = many.iter().map(|t| t.id.as_str()).collect();
                    anyhow::bail!(
                        "{name:?} is in several catalogs: name one of {}",
                        ids.join(", ")
                    )
                }
            }
        }
    };
    let t = client
        .template(env, &catalog, &folder)
        .await
        .map_err(|e| request_error(e, &format!("show template {catalog}/{folder}")))?;
    Ok((t, version))
}

async fn show(client: &Client, env: &str, args: &CatalogShowArgs) -> anyhow::Result<()> {
    let (t, version) = locate(client, env, &args.template).await?;
    let folder = version.unwrap_or_else(|| t.default_version.clone());
    let Some(v) = t.versions.iter().find(|v| v.folder == folder) else {
        let all: Vec<&str> = t.versions.iter().map(|v| v.folder.as_str()).collect();
        anyhow::bail!(
            "{} has no version {folder:?} (versions: {})",
            t.id,
            all.join(", ")
        );
    };
    match args.output {
        Format::Json => print(&render_object(&t, ObjectFormat::Json)?),
        Format::Yaml => print(&render_object(&t, ObjectFormat::Yaml)?),
        _ => print(&describe(&t, v)),
    }
}

/// A template as text: what it is, its versions, the README and the
/// questions of `v`.
fn describe(t: &TemplateInfo, v: &VersionInfo) -> String {
    let mut out = format!("{} ({})\n{}\n", t.name, t.id, t.description.trim());
    if !t.category.is_empty() {
        out.push_str(&format!("category: {}\n", t.category));
    }
    out.push_str("versions:\n");
    for x in &t.versions {
        let mark = if x.folder == v.folder { "*" } else { " " };
        let from = x
            .meta
            .upgrade_from
            .as_deref()
            .map(|u| format!(" (upgrades from {u})"))
            .unwrap_or_default();
        out.push_str(&format!(" {mark} {}: {}{from}\n", x.folder, x.meta.version));
    }
    if let Some(readme) = &v.readme {
        out.push_str(&format!("\n{}\n", readme.trim()));
    }
    out.push_str(&format!("\nquestions of version {}:\n", v.folder));
    for q in &v.meta.questions {
        let kind = serde_json::to_value(q.kind)
            .ok()
            .and_then(|k| k.as_str().map(str::to_string))
            .unwrap_or_default();
        let required = if q.required { ", required" } else { "" };
        let default = q
            .default
            .as_deref()
            .map(|d| format!(" [default {d}]"))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {} ({kind}{required}){default}: {}\n",
            q.variable, q.label
        ));
        if !q.options.is_empty() {
            out.push_str(&format!("      options: {}\n", q.options.join(", ")));
        }
    }
    out
}

pub(crate) async fn run_app(client: &Client, env: &str, cmd: AppCmd) -> anyhow::Result<()> {
    match cmd {
        AppCmd::Launch(args) => launch(client, env, &args).await,
        AppCmd::Ls(args) => {
            let apps = client
                .apps(env)
                .await
                .map_err(|e| request_error(e, "list apps"))?;
            let rows: Vec<AppRow> = apps.into_iter().map(AppRow).collect();
            print_rows(&rows, args.output)
        }
        AppCmd::Upgrade(args) => {
            let req = AppUpgradeRequest {
                version: args.version.clone(),
                answers: args.answer.iter().cloned().collect(),
                dry_run: args.dry_run,
            };
            let done = client
                .upgrade_app(env, &args.stack, &req)
                .await
                .map_err(|e| request_error(e, &format!("upgrade app {:?}", args.stack)))?;
            print(&plan_text(&done, &args.stack))
        }
        AppCmd::Rollback(args) => {
            let done = client
                .rollback_app(env, &args.stack)
                .await
                .map_err(|e| request_error(e, &format!("roll back app {:?}", args.stack)))?;
            print(&plan_text(&done, &args.stack))
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct AppRow(AppInfo);

impl Row for AppRow {
    const HEADERS: &'static [&'static str] = &["STACK", "TEMPLATE", "VERSION", "UPGRADE"];
    fn cells(&self) -> Vec<String> {
        let a = &self.0;
        let version = if a.catalog_version.is_empty() {
            a.version.clone()
        } else {
            format!("{} ({})", a.version, a.catalog_version)
        };
        let upgrade = match &a.upgrade_available {
            Some(v) => format!("upgrade available: {v}"),
            None => String::new(),
        };
        vec![a.stack.clone(), a.template.clone(), version, upgrade]
    }
}

/// The request of `catalog add`, with the credentials read from their
/// files or standard input (never from the command line, where `ps` and
/// the shell's history would show them).
fn add_request(args: &CatalogAddArgs) -> anyhow::Result<CatalogRequest> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| anyhow::anyhow!("--password-stdin: {e}"))?;
        Some(text.trim_end_matches(['\r', '\n']).to_string())
    } else {
        match &args.password_file {
            Some(p) => Some(
                read(p, "--password-file")?
                    .trim_end_matches(['\r', '\n'])
                    .to_string(),
            ),
            None => None,
        }
    };
    Ok(CatalogRequest {
        name: args.name.clone(),
        url: args.url.clone(),
        branch: args.branch.clone(),
        username: args.username.clone(),
        password,
        ssh_key: match &args.ssh_key {
            Some(p) => Some(read(p, "--ssh-key")?),
            None => None,
        },
        ssh_known_hosts: match &args.known_hosts {
            Some(p) => Some(read(p, "--known-hosts")?),
            None => None,
        },
    })
}

/// `TEMPLATE version N as stack S`, the answers, and the plan.
fn plan_text(done: &corral_api::LaunchPlan, stack: &str) -> String {
    let mut text = format!(
        "{} version {} as stack {stack}\n",
        done.template, done.version
    );
    for (k, v) in &done.answers {
        text.push_str(&format!("  {k} = {v}\n"));
    }
    text.push_str(&crate::stack::render_plan(&done.plan, stack));
    text
}

/// Answers from `--answers FILE` (KEY=VALUE lines or a JSON object), then
/// each `-a KEY=VALUE` over them.
fn answers(args: &AppLaunchArgs) -> anyhow::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    if let Some(path) = &args.answers {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--answers {}: {e}", path.display()))?;
        let name = path.display().to_string();
        out = if text.trim_start().starts_with('{') {
            let v: BTreeMap<String, serde_json::Value> = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{name}: not a JSON object of answers: {e}"))?;
            v.into_iter()
                .map(|(k, v)| {
                    (
                        k,
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string()),
                    )
                })
                .collect()
        } else {
            corral_compose::parse_env_file(&name, &text).map_err(|e| anyhow::anyhow!("{e}"))?
        };
    }
    out.extend(args.answer.iter().cloned());
    Ok(out)
}

async fn launch(client: &Client, env: &str, args: &AppLaunchArgs) -> anyhow::Result<()> {
    let req = LaunchRequest {
        name: args.name.clone(),
        template: args.template.clone(),
        answers: answers(args)?,
        dry_run: args.dry_run,
    };
    let launched = client
        .launch(env, &req)
        .await
        .map_err(|e| request_error(e, &format!("launch {}", args.template)))?;
    print(&plan_text(&launched, &args.name))
}
