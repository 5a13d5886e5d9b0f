//! A private OpenSSH server on a loopback port, with its own host key,
//! configuration and authorized client key, for the tests of ssh keys.
//! Debian's own sshd service is never used (nor started).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::free_port;

/// The server binary, from Debian's `openssh-server`.
pub const SSHD: &str = "/usr/sbin/sshd";

/// A key pair made by `ssh-keygen`.
pub struct KeyPair {
    pub private_path: PathBuf,
    /// The private key file's text.
    pub private: String,
    /// `TYPE BASE64` of the public key, without its comment.
    pub public: String,
}

/// Makes an ed25519 key pair without passphrase at `path` (and `path.pub`).
pub fn keygen(path: &Path) -> KeyPair {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "gitsync-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("ssh-keygen runs (Debian package openssh-client)");
    assert!(
        out.status.success(),
        "ssh-keygen failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
    let public = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    KeyPair {
        private_path: path.to_path_buf(),
        private: std::fs::read_to_string(path).unwrap(),
        public,
    }
}

/// The running server; killed on drop.
pub struct Sshd {
    child: Child,
    pub port: u16,
    /// The server's host key.
    pub host_key: KeyPair,
    /// The client key it accepts.
    pub client_key: KeyPair,
    /// The user to log in as (the one running the tests).
    pub user: String,
    log: PathBuf,
}

impl Sshd {
    /// Starts sshd in `dir` (which holds its keys, configuration and log),
    /// accepting the client key it makes there. Fails, never skips, when
    /// sshd is not installed.
    pub fn start(dir: &Path) -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: the ssh tests need Debian's openssh-server; run `cargo xtask setup`"
        );
        std::fs::create_dir_all(dir).unwrap();
        // sshd's privilege separation directory, which Debian's service
        // would make (it is never started); only root's sshd needs it.
        if !Path::new("/run/sshd").is_dir()
            && let Err(e) = std::fs::create_dir_all("/run/sshd")
        {
            eprintln!("cannot create /run/sshd (sshd's privilege separation directory): {e}");
        }
        let host_key = keygen(&dir.join("host_ed25519"));
        let client_key = keygen(&dir.join("client_ed25519"));
        let authorized = dir.join("authorized_keys");
        std::fs::write(&authorized, format!("{}\n", client_key.public)).unwrap();
        let log = dir.join("sshd.log");
        for _ in 0..5 {
            let port = free_port();
            let config = dir.join("sshd_config");
            std::fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host}\n\
                     AuthorizedKeysFile {authorized}\n\
                     PubkeyAuthentication yes\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PermitRootLogin prohibit-password\n\
                     UsePAM no\n\
                     StrictModes no\n\
                     PidFile none\n\
                     AcceptEnv GIT_PROTOCOL\n\
                     LogLevel VERBOSE\n",
                    host = host_key.private_path.display(),
                    authorized = authorized.display(),
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn()
                .expect("sshd starts");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd {
                        child,
                        port,
                        host_key,
                        client_key,
                        user: current_user(),
                        log,
                    };
                }
                if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    // Port taken meanwhile, or a start that failed: try again.
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!(
            "sshd did not start; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `ssh://USER@127.0.0.1:PORT/ABSOLUTE/PATH`.
    pub fn url(&self, repo: &Path) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            repo.display()
        )
    }

    /// The known_hosts line that trusts this server's real host key.
    pub fn known_hosts_line(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key.public)
    }

    /// What sshd logged, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id runs");
    let name = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!name.is_empty(), "no user name from `id -un`");
    name
}
