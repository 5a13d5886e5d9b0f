//! `corral stack export NAME [-d DIR] [--force] [--stdout]`: compose files
//! that deploy to the same stack again.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::bail;
use corral_api::Client;
use corral_types::SourceFile;

use crate::args::ExportArgs;
use crate::errors::object_error;
use crate::output::print;

pub(super) async fn run(client: &Client, env: &str, args: &ExportArgs) -> anyhow::Result<()> {
    let files = client
        .export_stack(env, &args.name)
        .await
        .map_err(|e| object_error(e, "export", "stack", env, &args.name))?;
    if args.stdout {
        return print(&render_files(&files));
    }
    let dir = args.dir.clone().unwrap_or_default();
    let written = write_files(&dir, &files, args.force)?;
    let mut out = String::new();
    for path in written {
        out.push_str(&format!("{}\n", path.display()));
    }
    print(&out)
}

/// The files one after another, each after a `# --- FILE ---` line.
pub(super) fn render_files(files: &[SourceFile]) -> String {
    let mut out = String::new();
    for file in files {
        out.push_str(&format!("# --- {} ---\n", file.name));
        out.push_str(&file.content);
        if !file.content.is_empty() && !file.content.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Checks that the server named a plain file, not a path.
fn file_name(file: &SourceFile) -> anyhow::Result<&str> {
    let name = file.name.as_str();
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']) {
        bail!("the server exported a file named {name:?}, which is not a plain file name");
    }
    Ok(name)
}

/// Writes every file into `dir` (the current directory when empty) and
/// returns their paths. Without `force`, nothing is written when any of
/// them exists already.
pub(super) fn write_files(
    dir: &Path,
    files: &[SourceFile],
    force: bool,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = Vec::with_capacity(files.len());
    for file in files {
        let path = dir.join(file_name(file)?);
        if !force && path.symlink_metadata().is_ok() {
            bail!(
                "{} already exists (use --force to overwrite it)",
                path.display()
            );
        }
        paths.push(path);
    }
    if !dir.as_os_str().is_empty() {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    for (file, path) in files.iter().zip(&paths) {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if force {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        options
            .open(path)
            .and_then(|mut f| f.write_all(file.content.as_bytes()))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                    "{} already exists (use --force to overwrite it)",
                    path.display()
                ),
                _ => anyhow::anyhow!("cannot write {}: {e}", path.display()),
            })?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<SourceFile> {
        vec![
            SourceFile {
                name: "docker-compose.yml".into(),
                content: "services:\n  web:\n    image: nginx\n".into(),
            },
            SourceFile {
                name: "rancher-compose.yml".into(),
                content: "services: {}".into(),
            },
        ]
    }

    #[test]
    fn export_writes_every_file_into_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let written = write_files(&out, &files(), false).unwrap();
        assert_eq!(
            written,
            [
                out.join("docker-compose.yml"),
                out.join("rancher-compose.yml")
            ]
        );
        let text = std::fs::read_to_string(out.join("docker-compose.yml")).unwrap();
        assert_eq!(text, files()[0].content);
    }

    #[test]
    fn export_refuses_to_overwrite_without_force() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rancher-compose.yml"), "mine").unwrap();
        let e = write_files(dir.path(), &files(), false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("rancher-compose.yml")
                && e.contains("already exists")
                && e.contains("--force"),
            "{e}"
        );
        // Nothing was written, not even the file that did not exist.
        assert!(!dir.path().join("docker-compose.yml").exists());
        let kept = std::fs::read_to_string(dir.path().join("rancher-compose.yml")).unwrap();
        assert_eq!(kept, "mine");
        write_files(dir.path(), &files(), true).unwrap();
        let replaced = std::fs::read_to_string(dir.path().join("rancher-compose.yml")).unwrap();
        assert_eq!(replaced, "services: {}");
    }

    #[test]
    fn export_refuses_paths_from_the_server() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["../evil.yml", "/etc/passwd", "", ".."] {
            let bad = [SourceFile {
                name: name.into(),
                content: String::new(),
            }];
            let e = write_files(dir.path(), &bad, true).unwrap_err().to_string();
            assert!(e.contains("not a plain file name"), "{e}");
        }
    }

    #[test]
    fn stdout_separates_files_with_their_names() {
        assert_eq!(
            render_files(&files()),
            "# --- docker-compose.yml ---\n\
             services:\n  web:\n    image: nginx\n\
             # --- rancher-compose.yml ---\n\
             services: {}\n"
        );
    }
}
