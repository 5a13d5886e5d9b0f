//! The built-in catalog `library`: the repository's `catalog/` folder,
//! embedded in the binary and written out under the data directory, so a
//! fresh server has templates to launch without reaching any network. Its
//! URL is `builtin://library`; the first start adds it as a global catalog.

use std::path::Path;

use super::book::Fetched;

/// The catalog's name and URL.
pub const NAME: &str = "library";
pub const URL: &str = "builtin://library";

/// Every file of `catalog/`, by its path there (a test checks the list
/// against the folder).
pub const FILES: &[(&str, &[u8])] = &[
    ("README.md", include_bytes!("../../../../catalog/README.md")),
    (
        "templates/hello/config.yml",
        include_bytes!("../../../../catalog/templates/hello/config.yml"),
    ),
    (
        "templates/hello/catalogIcon-hello.svg",
        include_bytes!("../../../../catalog/templates/hello/catalogIcon-hello.svg"),
    ),
    (
        "templates/hello/0/README.md",
        include_bytes!("../../../../catalog/templates/hello/0/README.md"),
    ),
    (
        "templates/hello/0/docker-compose.yml",
        include_bytes!("../../../../catalog/templates/hello/0/docker-compose.yml"),
    ),
    (
        "templates/hello/0/rancher-compose.yml",
        include_bytes!("../../../../catalog/templates/hello/0/rancher-compose.yml"),
    ),
    (
        "templates/hello/1/README.md",
        include_bytes!("../../../../catalog/templates/hello/1/README.md"),
    ),
    (
        "templates/hello/1/docker-compose.yml",
        include_bytes!("../../../../catalog/templates/hello/1/docker-compose.yml"),
    ),
    (
        "templates/hello/1/rancher-compose.yml",
        include_bytes!("../../../../catalog/templates/hello/1/rancher-compose.yml"),
    ),
    (
        "templates/sleeper/config.yml",
        include_bytes!("../../../../catalog/templates/sleeper/config.yml"),
    ),
    (
        "templates/sleeper/0/docker-compose.yml.tpl",
        include_bytes!("../../../../catalog/templates/sleeper/0/docker-compose.yml.tpl"),
    ),
    (
        "templates/sleeper/0/rancher-compose.yml",
        include_bytes!("../../../../catalog/templates/sleeper/0/rancher-compose.yml"),
    ),
];

/// Adds the global catalog `library` once per data directory (the marker
/// `catalogs/.library-added` keeps an admin's removal), on first start and
/// on the first start of a server from before catalogs.
pub fn add_once(
    store: &dyn corral_store::Store,
    clock: &dyn corral_controllers::Clock,
    data_dir: &Path,
) -> anyhow::Result<()> {
    use corral_types::{Catalog, CatalogSpec, GLOBAL, Kind, Object};
    let marker = data_dir.join("catalogs").join(".library-added");
    if marker.exists() {
        return Ok(());
    }
    let mut c: Catalog = Object::new(
        Kind::Catalog,
        GLOBAL,
        NAME,
        CatalogSpec {
            url: URL.into(),
            ..CatalogSpec::default()
        },
    );
    c.meta.uid = corral_controllers::new_uid();
    c.meta.created = clock.now_rfc3339();
    c.meta.generation = 1;
    match store.create(c.to_raw()?) {
        Ok(_) | Err(corral_store::StoreError::AlreadyExists { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    std::fs::create_dir_all(data_dir.join("catalogs"))?;
    std::fs::write(&marker, b"")?;
    Ok(())
}

/// A short digest of the embedded files: the "commit" `catalog sources`
/// shows for the built-in catalog (it changes with the binary's files).
pub fn digest() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (path, bytes) in FILES {
        h.update(path.as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    }
    crate::access::secrets::hex(&h.finalize())
}

/// Writes the embedded files under `cache/<digest>/` (once per binary)
/// and answers that tree.
pub fn fetch(cache: &Path) -> Result<Fetched, String> {
    let commit = digest();
    let root = cache.join(&commit);
    if !root.join(FILES[0].0).is_file() {
        let tmp = cache.join(format!(".{commit}.tmp"));
        let _ = std::fs::remove_dir_all(&tmp);
        for (path, bytes) in FILES {
            let p = tmp.join(path);
            if let Some(dir) = p.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        }
        let _ = std::fs::remove_dir_all(&root);
        std::fs::rename(&tmp, &root).map_err(|e| format!("{}: {e}", root.display()))?;
    }
    Ok(Fetched { commit, root })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn files_under(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let name = format!("{prefix}{}", e.file_name().to_string_lossy());
            if e.file_type().unwrap().is_dir() {
                files_under(&e.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }

    #[test]
    fn every_file_of_the_catalog_folder_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../catalog");
        let mut on_disk = Vec::new();
        files_under(&dir, "", &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = FILES.iter().map(|(p, _)| p.to_string()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk, "catalog/ and builtin::FILES differ");
    }

    #[test]
    fn the_built_in_catalog_reads_without_errors_and_renders_with_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let fetched = fetch(tmp.path()).unwrap();
        assert_eq!(fetch(tmp.path()).unwrap().commit, fetched.commit);
        let repo = corral_catalog::read_repository(NAME, &fetched.root);
        assert!(repo.errors.is_empty(), "{:?}", repo.errors);
        let hello = repo.templates.iter().find(|t| t.folder == "hello").unwrap();
        assert_eq!(hello.default_version, "1");
        assert_eq!(hello.icon.as_deref(), Some("catalogIcon-hello.svg"));
        for t in &repo.templates {
            for v in &t.versions {
                let r = corral_catalog::render(v, "demo", &Default::default()).unwrap();
                let loaded = corral_compose::load("demo", &r.files, &r.variables).unwrap();
                assert!(
                    loaded.warnings.is_empty(),
                    "{}:{}: {:?}",
                    t.folder,
                    v.folder,
                    loaded.warnings
                );
            }
        }
    }
}
