//! A checked-out catalog tree to its templates. A broken template or
//! version is an error in [`Repository::errors`] naming its file; it never
//! hides the others.

use std::collections::BTreeMap;
use std::path::Path;

use corral_types::{CatalogMeta, SourceFile, TemplateInfo, VersionInfo};
use serde::Deserialize;

/// Largest file read from a catalog (a compose file, README or icon).
pub const MAX_FILE_BYTES: u64 = 4 << 20;
/// Most templates read from one catalog.
pub const MAX_TEMPLATES: usize = 5_000;

/// What a catalog tree holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repository {
    /// Templates in folder order, `templates/` then `infra-templates/`.
    pub templates: Vec<TemplateInfo>,
    /// Each template or version that could not be read, naming its file.
    pub errors: Vec<String>,
}

/// `config.yml` of a template, as loosely as Rancher read it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Config {
    name: Option<Scalar>,
    description: Option<Scalar>,
    version: Option<Scalar>,
    category: Option<Scalar>,
    maintainer: Option<Scalar>,
    license: Option<Scalar>,
    #[serde(rename = "projectURL")]
    project_url: Option<Scalar>,
}

/// A YAML scalar of any type, kept as text (`version: 1.2` is a version).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn text(s: Option<Scalar>) -> String {
        match s {
            Some(Scalar::Text(t)) => t.trim_end().to_string(),
            Some(Scalar::Int(n)) => n.to_string(),
            Some(Scalar::Float(f)) => f.to_string(),
            Some(Scalar::Bool(b)) => b.to_string(),
            None => String::new(),
        }
    }
}

/// Reads the templates of the catalog tree at `root` as catalog `catalog`.
pub fn read_repository(catalog: &str, root: &Path) -> Repository {
    let mut repo = Repository::default();
    for (dir, infra) in [("templates", false), ("infra-templates", true)] {
        for folder in sorted_dirs(&root.join(dir)) {
            if repo.templates.len() >= MAX_TEMPLATES {
                repo.errors.push(format!(
                    "{dir}/{folder}: more than {MAX_TEMPLATES} templates, the rest not read"
                ));
                return repo;
            }
            let path = root.join(dir).join(&folder);
            match read_template(catalog, &folder, infra, &path, &mut repo.errors) {
                Ok(t) => repo.templates.push(t),
                Err(e) if e.starts_with(':') => repo.errors.push(format!("{dir}/{folder}{e}")),
                Err(e) => repo.errors.push(format!("{dir}/{folder}/{e}")),
            }
        }
    }
    repo
}

fn read_template(
    catalog: &str,
    folder: &str,
    infra: bool,
    dir: &Path,
    errors: &mut Vec<String>,
) -> Result<TemplateInfo, String> {
    let text = read_text(&dir.join("config.yml")).map_err(|e| format!("config.yml: {e}"))?;
    let config: Config = serde_saphyr::from_str(&text).map_err(|e| format!("config.yml: {e}"))?;
    let top = if infra {
        "infra-templates"
    } else {
        "templates"
    };
    let mut versions = Vec::new();
    for v in sorted_dirs(dir) {
        match read_version(&dir.join(&v), &v) {
            Ok(Some(info)) => versions.push(info),
            Ok(None) => {}
            Err(e) => errors.push(format!("{top}/{folder}/{v}/{e}")),
        }
    }
    if versions.is_empty() {
        return Err(": no version folder with a docker-compose.yml".into());
    }
    let version = Scalar::text(config.version);
    let default_version = versions
        .iter()
        .rev()
        .find(|v| !version.is_empty() && v.meta.version == version)
        .or(versions.last())
        .map(|v| v.folder.clone())
        .unwrap_or_default();
    Ok(TemplateInfo {
        id: format!("{catalog}/{folder}"),
        catalog: catalog.to_string(),
        folder: folder.to_string(),
        infra,
        name: Some(Scalar::text(config.name))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| folder.to_string()),
        description: Scalar::text(config.description),
        category: Scalar::text(config.category),
        maintainer: Scalar::text(config.maintainer),
        license: Scalar::text(config.license),
        project_url: Scalar::text(config.project_url),
        icon: icon_name(dir),
        default_version,
        versions,
    })
}

/// The compose files of one version folder; `None` for a folder that is not
/// a version (no docker-compose file).
fn read_version(dir: &Path, folder: &str) -> Result<Option<VersionInfo>, String> {
    let mut files = Vec::new();
    for base in ["docker-compose.yml", "rancher-compose.yml"] {
        for name in [base.to_string(), format!("{base}.tpl")] {
            let p = dir.join(&name);
            if p.is_file() {
                let content = read_text(&p).map_err(|e| format!("{name}: {e}"))?;
                files.push(SourceFile { name, content });
                break;
            }
        }
    }
    if !files.iter().any(|f| f.name.starts_with("docker-compose")) {
        return Ok(None);
    }
    let mut meta = CatalogMeta::default();
    let mut warnings = Vec::new();
    if let Some(rc) = files.iter().find(|f| f.name.starts_with("rancher-compose")) {
        let (m, w) = corral_compose::catalog_meta(rc).map_err(|e| e.to_string())?;
        meta = m.unwrap_or_default();
        warnings = w.iter().map(|d| d.to_string()).collect();
    }
    let readme = ["README.md", "readme.md", "README"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .and_then(|p| read_text(&p).ok());
    Ok(Some(VersionInfo {
        folder: folder.to_string(),
        meta,
        readme,
        files,
        warnings,
    }))
}

/// Folder names under `dir`, numbers in numeric order (`2` before `10`),
/// then the rest by name; hidden folders skipped.
fn sorted_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort_by_key(|n| (n.parse::<u64>().map_err(|_| n.clone()), n.clone()));
    names
}

fn read_text(path: &Path) -> Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    if len > MAX_FILE_BYTES {
        return Err(format!("{len} bytes, more than {MAX_FILE_BYTES}"));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

/// The template's icon: a file named `catalogIcon-*` in its folder.
fn icon_name(dir: &Path) -> Option<String> {
    let mut icons: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("catalogIcon-"))
        .collect();
    icons.sort();
    icons.into_iter().next()
}

/// The bytes of a template's icon and its content type, when `name` is the
/// icon [`read_repository`] found (so no other file can be read this way).
pub fn read_icon(root: &Path, template: &TemplateInfo) -> Option<(Vec<u8>, &'static str)> {
    let name = template.icon.as_ref()?;
    let top = if template.infra {
        "infra-templates"
    } else {
        "templates"
    };
    let path = root.join(top).join(&template.folder).join(name);
    if std::fs::metadata(&path).ok()?.len() > MAX_FILE_BYTES {
        return None;
    }
    let types: BTreeMap<&str, &'static str> = [
        ("svg", "image/svg+xml"),
        ("png", "image/png"),
        ("jpg", "image/jpeg"),
        ("jpeg", "image/jpeg"),
        ("gif", "image/gif"),
    ]
    .into_iter()
    .collect();
    let ext = name.rsplit('.').next()?.to_ascii_lowercase();
    let content_type = types.get(ext.as_str())?;
    Some((std::fs::read(path).ok()?, content_type))
}
