//! Test and demo images built locally (no registry is ever reachable):
//! `corral-busybox` from Debian's static busybox, `corral-whoami` from the
//! project's own statically linked binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use crate::cmd::{self, run, run_inherited};
use crate::engine::PrivateEngine;
use crate::paths::{exclusive_lock, fnv1a, hash_file, workspace_root};

pub const BUSYBOX_IMAGE: &str = "corral-busybox:latest";
pub const WHOAMI_IMAGE: &str = "corral-whoami:latest";

/// The label holding the hash of an image's inputs; a build is skipped
/// while it matches.
pub const INPUT_HASH_LABEL: &str = "corral.input-hash";

const BUSYBOX_BINARY: &str = "/bin/busybox";

/// Debian's curl, copied into the busybox image with the shared libraries
/// it loads, so tests can run `curl` inside a container (the metadata
/// service's scripts use it).
const CURL_BINARY: &str = "/usr/bin/curl";

/// The applets linked into the busybox image (all of them `/bin/busybox`).
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "httpd",
    "nc",
    "sleep",
    "echo",
    "cat",
    "ls",
    "wget",
    "true",
    "false",
    "env",
    "hostname",
    "ps",
    "kill",
    "killall",
    "pidof",
    "mkdir",
    "rm",
    "rmdir",
    "cp",
    "mv",
    "ln",
    "touch",
    "chmod",
    "grep",
    "sed",
    "awk",
    "head",
    "tail",
    "wc",
    "sort",
    "uniq",
    "cut",
    "tr",
    "tee",
    "xargs",
    "find",
    "date",
    "id",
    "stty",
    "tty",
    "whoami",
    "uname",
    "printf",
    "test",
    "[",
    "seq",
    "yes",
    "timeout",
    "which",
    "pwd",
    "df",
    "du",
    "free",
    "top",
    "uptime",
    "nproc",
    "ip",
    "ifconfig",
    "ping",
    "nslookup",
    "netstat",
    "dd",
    "sync",
    "stat",
    "basename",
    "dirname",
    "expr",
    "md5sum",
    "sha256sum",
    "tar",
    "gzip",
    "gunzip",
    "vi",
    "less",
    "readlink",
    "usleep",
    "mkfifo",
    "watch",
];

const WHOAMI_DOCKERFILE: &str = "FROM scratch\n\
COPY corral-whoami /whoami\n\
EXPOSE 80\n\
ENTRYPOINT [\"/whoami\"]\n";

/// Builds every test image that is missing or out of date; safe to call
/// from many processes at once.
pub fn ensure_images(engine: &PrivateEngine) -> anyhow::Result<()> {
    ensure_busybox_image(engine)?;
    ensure_whoami_image(engine)
}

/// Builds `corral-busybox:latest` unless it is up to date.
pub fn ensure_busybox_image(engine: &PrivateEngine) -> anyhow::Result<()> {
    let busybox = Path::new(BUSYBOX_BINARY);
    if !busybox.is_file() {
        bail!("{BUSYBOX_BINARY} is missing: run `cargo xtask setup` (installs busybox-static)");
    }
    let curl = Path::new(CURL_BINARY);
    if !curl.is_file() {
        bail!("{CURL_BINARY} is missing: run `cargo xtask setup` (installs curl)");
    }
    let hash = format!(
        "{:016x}",
        hash_file(busybox)? ^ fnv1a(APPLETS.join(",").as_bytes()) ^ hash_file(curl)?.rotate_left(1)
    );
    let _lock = exclusive_lock(&engine.root, "images.lock")?;
    if image_hash(engine, BUSYBOX_IMAGE).as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    let rootfs = tempfile::tempdir().context("cannot create a temporary rootfs")?;
    write_busybox_rootfs(rootfs.path(), busybox)?;
    copy_with_libraries(rootfs.path(), curl)?;
    import_rootfs(engine, rootfs.path(), &hash)
        .with_context(|| format!("cannot import {BUSYBOX_IMAGE}"))
}

/// Builds `corral-whoami:latest` from a static `corral-whoami` unless it is
/// up to date. The cargo build is incremental; the image build is skipped
/// when the binary did not change.
pub fn ensure_whoami_image(engine: &PrivateEngine) -> anyhow::Result<()> {
    let binary = build_static_whoami()?;
    let hash = format!(
        "{:016x}",
        hash_file(&binary)? ^ fnv1a(WHOAMI_DOCKERFILE.as_bytes())
    );
    let _lock = exclusive_lock(&engine.root, "images.lock")?;
    if image_hash(engine, WHOAMI_IMAGE).as_deref() == Some(hash.as_str()) {
        return Ok(());
    }
    let context = tempfile::tempdir().context("cannot create a build context")?;
    std::fs::copy(&binary, context.path().join("corral-whoami"))
        .with_context(|| format!("cannot copy {}", binary.display()))?;
    std::fs::write(context.path().join("Dockerfile"), WHOAMI_DOCKERFILE)
        .context("cannot write the dockerfile")?;
    let mut build = engine.docker();
    build
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--quiet", "--label"])
        .arg(format!("{INPUT_HASH_LABEL}={hash}"))
        .args(["--tag", WHOAMI_IMAGE])
        .arg(context.path());
    run(&mut build).with_context(|| format!("cannot build {WHOAMI_IMAGE}"))?;
    Ok(())
}

/// The input hash label of `image`, or `None` if the image is missing.
fn image_hash(engine: &PrivateEngine, image: &str) -> Option<String> {
    let format = format!("{{{{ index .Config.Labels \"{INPUT_HASH_LABEL}\" }}}}");
    let output = engine
        .docker()
        .args(["image", "inspect", "--format", &format, image])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// A minimal root file system: busybox, its applets, /etc basics and a page
/// for `httpd -h /www`.
fn write_busybox_rootfs(root: &Path, busybox: &Path) -> anyhow::Result<()> {
    let write = |path: &str, contents: &str| -> anyhow::Result<()> {
        let path = root.join(path);
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
    };
    for dir in ["bin", "etc", "tmp", "root", "www", "proc", "sys", "dev"] {
        let path = root.join(dir);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
    }
    let tmp = root.join("tmp");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o1777))
        .with_context(|| format!("cannot make {} world-writable", tmp.display()))?;
    std::fs::copy(busybox, root.join("bin/busybox"))
        .with_context(|| format!("cannot copy {}", busybox.display()))?;
    for applet in APPLETS {
        let link = root.join("bin").join(applet);
        std::os::unix::fs::symlink("busybox", &link)
            .with_context(|| format!("cannot link {}", link.display()))?;
    }
    write(
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    write("etc/group", "root:x:0:\nnogroup:x:65534:\n")?;
    write("www/index.html", "corral-busybox\n")?;
    Ok(())
}

/// Copies `binary` into `root` at the same path, with every shared library
/// `ldd` lists for it (and the dynamic loader), each at its own path.
fn copy_with_libraries(root: &Path, binary: &Path) -> anyhow::Result<()> {
    let mut ldd = Command::new("ldd");
    ldd.arg(binary);
    let listing = run(&mut ldd)
        .with_context(|| format!("cannot list the libraries of {}", binary.display()))?;
    let mut files = vec![binary.to_path_buf()];
    files.extend(library_paths(&listing));
    for file in files {
        let relative = file.strip_prefix("/").unwrap_or(&file);
        let target = root.join(relative);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        // Follow symbolic links: the image gets the file itself.
        std::fs::copy(&file, &target)
            .with_context(|| format!("cannot copy {} into the image", file.display()))?;
    }
    Ok(())
}

/// The absolute library paths in `ldd` output (`libz.so.1 => /lib/.../libz.so.1 (0x...)`
/// and the loader's own `/lib64/ld-linux-x86-64.so.2 (0x...)`).
fn library_paths(ldd_output: &str) -> Vec<PathBuf> {
    ldd_output
        .lines()
        .filter_map(|line| {
            let path = match line.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => line.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

/// `tar -c <rootfs> | docker import` with a default command and the input hash.
fn import_rootfs(engine: &PrivateEngine, rootfs: &Path, hash: &str) -> anyhow::Result<()> {
    let mut tar = Command::new("tar");
    tar.arg("-C")
        .arg(rootfs)
        .args(["--owner=0", "--group=0", "--numeric-owner", "-c", "."])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut tar_child = tar
        .spawn()
        .with_context(|| format!("cannot run {}", cmd::describe(&tar)))?;
    let tar_out = tar_child
        .stdout
        .take()
        .context("tar has no standard output")?;
    let mut import = engine.docker();
    import
        .args(["import", "--change", "CMD [\"sh\"]", "--change"])
        .arg(format!("LABEL {INPUT_HASH_LABEL}={hash}"))
        .args(["-", BUSYBOX_IMAGE])
        .stdin(Stdio::from(tar_out));
    let imported = import
        .output()
        .with_context(|| format!("cannot run {}", cmd::describe(&import)))?;
    let tar_status = tar_child.wait().context("cannot wait for tar")?;
    if !tar_status.success() {
        bail!("tar of {} failed ({tar_status})", rootfs.display());
    }
    if !imported.status.success() {
        bail!(
            "{} failed: {}",
            cmd::describe(&import),
            String::from_utf8_lossy(&imported.stderr).trim()
        );
    }
    Ok(())
}

/// Builds the static `corral-whoami` in its own target directory (so the
/// normal build cache keeps its flags) and returns the binary's path.
fn build_static_whoami() -> anyhow::Result<PathBuf> {
    const TARGET: &str = "x86_64-unknown-linux-gnu";
    let workspace = workspace_root();
    let target_dir = workspace.join("target/static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&workspace)
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "corral-whoami",
            "--target",
            TARGET,
        ])
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    run_inherited(&mut build).context("cannot build the static corral-whoami")?;
    let binary = target_dir.join(TARGET).join("release/corral-whoami");
    if !binary.is_file() {
        bail!("{} was not built", binary.display());
    }
    Ok(binary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output_gives_every_library_and_the_loader() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\tlibcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x00007f)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        assert_eq!(
            library_paths(out),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libcurl.so.4"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
    }

    #[test]
    fn rootfs_links_every_applet_to_busybox() {
        let dir = tempfile::tempdir().unwrap();
        let fake_busybox = dir.path().join("busybox");
        std::fs::write(&fake_busybox, b"binary").unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        write_busybox_rootfs(&root, &fake_busybox).unwrap();
        assert_eq!(std::fs::read(root.join("bin/busybox")).unwrap(), b"binary");
        for applet in ["sh", "httpd", "nc", "sleep"] {
            let target = std::fs::read_link(root.join("bin").join(applet)).unwrap();
            assert_eq!(target, Path::new("busybox"));
        }
        assert!(root.join("tmp").is_dir());
    }

    #[test]
    fn applets_are_listed_once() {
        let mut sorted = APPLETS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), APPLETS.len());
    }
}
