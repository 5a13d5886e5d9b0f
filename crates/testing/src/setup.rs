//! Installing what the test bed needs on a fresh Debian machine.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::cmd::{self, run, run_inherited};

/// The Debian packages the test bed needs.
pub const PACKAGES: &[&str] = &[
    "docker.io",
    "busybox-static",
    "iproute2",
    "iptables",
    "curl",
    "slapd",
    "ldap-utils",
    "chromium",
    "openssl",
    "git",
    "openssh-client",
    "openssh-server",
    "ca-certificates",
];

/// Node.js and npm, for the web UI's build and tests: installed from
/// Debian only when missing, so that a Node.js from elsewhere (NodeSource's
/// `nodejs`, which carries its own npm) is left alone. The UI's build
/// needs Node.js 20.19 or newer (`cargo xtask ui` says so when it is older).
pub const NODE_PACKAGES: &[&str] = &["nodejs", "npm"];

/// Debian's hook to forbid services starting during package installation.
const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// What is missing from this machine, by package; empty when all is there.
pub fn missing_prerequisites() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !cmd::exists("dockerd") || !cmd::exists("docker") {
        missing.push("docker.io");
    }
    if !Path::new("/bin/busybox").is_file() {
        missing.push("busybox-static");
    }
    if !cmd::exists("ip") {
        missing.push("iproute2");
    }
    if !cmd::exists("iptables") {
        missing.push("iptables");
    }
    if !Path::new("/usr/bin/curl").is_file() {
        missing.push("curl");
    }
    // The private slapd of directory tests (`crate::slapd`); the package's
    // own service is kept from starting like dockerd's.
    if !Path::new("/usr/sbin/slapd").is_file() || !Path::new("/usr/sbin/slappasswd").is_file() {
        missing.push("slapd");
    }
    if !Path::new("/usr/bin/ldapsearch").is_file() {
        missing.push("ldap-utils");
    }
    // The web UI's browser test drives Debian's Chromium (never a
    // downloaded browser).
    if !Path::new("/usr/bin/chromium").is_file() {
        missing.push("chromium");
    }
    // The admin page's browser test makes its server's certificate with it.
    if !cmd::exists("openssl") {
        missing.push("openssl");
    }
    // Catalogs: gix runs git-upload-pack for file:// URLs and ssh for ssh
    // URLs; https trusts the system's certificates. The catalog tests make
    // their repositories with git (and run git daemon, git http-backend).
    if !cmd::exists("git") {
        missing.push("git");
    }
    if !cmd::exists("ssh") || !cmd::exists("ssh-keygen") {
        missing.push("openssh-client");
    }
    // The private sshd of the catalog ssh key tests (corral-gitsync's
    // tests/ssh.rs); Debian's own sshd service is kept from starting.
    if !Path::new("/usr/sbin/sshd").is_file() {
        missing.push("openssh-server");
    }
    if !Path::new("/etc/ssl/certs/ca-certificates.crt").is_file() {
        missing.push("ca-certificates");
    }
    if !cmd::exists("node") {
        missing.push("nodejs");
    }
    if !cmd::exists("npm") {
        missing.push("npm");
    }
    missing
}

/// Installs the packages with apt-get when something is missing. Needs root.
/// Debian would start the system's own dockerd, slapd and sshd on
/// installation: they are kept from doing so (policy-rc.d), the test bed
/// runs its private engine, the directory tests their private slapd and the
/// catalog tests their private sshd instead.
pub fn install_prerequisites() -> anyhow::Result<()> {
    let missing = missing_prerequisites();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root()? {
        bail!(
            "missing {}: run `cargo xtask setup` as root, or `apt-get install -y {}`",
            missing.join(", "),
            PACKAGES.join(" ")
        );
    }
    let policy_written = !Path::new(POLICY_RC_D).exists();
    if policy_written {
        write_policy_rc_d()?;
    }
    let installed = apt_install(&missing);
    if policy_written {
        std::fs::remove_file(POLICY_RC_D)
            .with_context(|| format!("cannot remove {POLICY_RC_D}"))?;
    }
    installed?;
    let still_missing = missing_prerequisites();
    if !still_missing.is_empty() {
        bail!("still missing after apt-get: {}", still_missing.join(", "));
    }
    Ok(())
}

fn apt_install(missing: &[&str]) -> anyhow::Result<()> {
    run_inherited(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    let node = NODE_PACKAGES.iter().filter(|p| missing.contains(p));
    run_inherited(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(PACKAGES)
            .args(node)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn write_policy_rc_d() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(POLICY_RC_D, "#!/bin/sh\nexit 101\n")
        .with_context(|| format!("cannot write {POLICY_RC_D}"))?;
    std::fs::set_permissions(POLICY_RC_D, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot make {POLICY_RC_D} executable"))
}

/// Whether this process runs as root.
pub fn is_root() -> anyhow::Result<bool> {
    Ok(run(Command::new("id").arg("-u"))?.trim() == "0")
}
