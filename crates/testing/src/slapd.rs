//! A private OpenLDAP `slapd` for tests: its own config and database in a
//! fresh temporary directory, seeded with `slapadd`, listening only on
//! `ldap://127.0.0.1:<free port>/`, killed and removed on drop.
//!
//! It never reads or changes the system's `/etc/ldap/slapd.d` or its
//! service: the config is a `slapd.conf` given with `-f`, and the pid and
//! args files live in the temporary directory. The set-up installs the
//! Debian package with services kept from starting (policy-rc.d); a system
//! slapd, if one runs anyway, listens on port 389 and is not in the way.
//!
//! The database (suffix [`SUFFIX`], root DN [`ADMIN_DN`]) loads the
//! `ppolicy` overlay (a default policy under `ou=policies`, so an entry
//! with `pwdAccountLockedTime` cannot bind) and the `dynlist` overlay,
//! which computes `memberOf` on user entries from the `groupOfNames`
//! groups, the way Active Directory shows it. Only [`SERVICE_DN`] (and the
//! root DN) can read the tree; each user reads their own entry.
//! [`Slapd::start_tls`] adds StartTLS and an `ldaps://` listener with a
//! certificate the test provides.
//!
//! Synchronous (it shells out and polls); calling it at the top of a
//! `#[tokio::test]` is fine. A test process killed with SIGKILL leaves its
//! slapd running (nothing kills it but [`Drop`]).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cmd::run;

/// The suffix of the test directory.
pub const SUFFIX: &str = "dc=corral,dc=test";
/// The root DN (no ACL applies to it).
pub const ADMIN_DN: &str = "cn=admin,dc=corral,dc=test";
pub const ADMIN_PASSWORD: &str = "admin-pw";
/// The service account of [`seed_ldif`]: reads the whole tree.
pub const SERVICE_DN: &str = "cn=corral,ou=services,dc=corral,dc=test";
pub const SERVICE_PASSWORD: &str = "corral-pw";
/// Where [`seed_ldif`] puts users and groups.
pub const PEOPLE_BASE: &str = "ou=people,dc=corral,dc=test";
pub const GROUPS_BASE: &str = "ou=groups,dc=corral,dc=test";

/// The users of [`seed_ldif`]: login, password, display name, groups.
/// `carol` is locked by ppolicy (`pwdAccountLockedTime`).
pub const SEED_USERS: &[(&str, &str, &str, &[&str])] = &[
    (
        "alice",
        "alice-pw",
        "Alice Liddell",
        &["devs", "release, managers"],
    ),
    ("bob", "bob-pw", "Bob Builder", &["testers"]),
    ("carol", "carol-pw", "Carol Locked", &["devs"]),
];

/// How long slapd may take to answer after it was started.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Attempts with a new port when another process took the chosen one.
const PORT_ATTEMPTS: usize = 3;

/// A server certificate and key (PEM) for [`Slapd::start_tls`].
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert_pem: String,
    pub key_pem: String,
}

/// A running private slapd; dropping it kills it and removes its directory.
#[derive(Debug)]
pub struct Slapd {
    child: Child,
    port: u16,
    ldaps_port: Option<u16>,
    dir: tempfile::TempDir,
}

impl Slapd {
    /// Writes a private config, loads `seed_ldif` with `slapadd` (it must
    /// start with the suffix entry, as [`seed_ldif`] does), starts slapd in
    /// the foreground and waits until it accepts connections.
    pub fn start(seed_ldif: &str) -> anyhow::Result<Slapd> {
        Self::start_with(seed_ldif, None)
    }

    /// Like [`Slapd::start`], with TLS: StartTLS on [`Slapd::url`] and
    /// `ldaps://` on [`Slapd::ldaps_url`], presenting `tls.cert_pem`.
    pub fn start_tls(seed_ldif: &str, tls: &TlsFiles) -> anyhow::Result<Slapd> {
        Self::start_with(seed_ldif, Some(tls))
    }

    fn start_with(seed_ldif: &str, tls: Option<&TlsFiles>) -> anyhow::Result<Slapd> {
        let slapd = tool("slapd")?;
        let dir = tempfile::Builder::new()
            .prefix("corral-slapd-")
            .tempdir()
            .context("cannot make a directory for slapd")?;
        let path = |name: &str| dir.path().join(name);
        let write = |name: &str, text: &str| {
            std::fs::write(path(name), text)
                .with_context(|| format!("cannot write {}", path(name).display()))
        };
        std::fs::create_dir(path("db")).context("cannot make slapd's db directory")?;
        if let Some(tls) = tls {
            write("server.crt", &tls.cert_pem)?;
            write("server.key", &tls.key_pem)?;
        }
        let conf = path("slapd.conf");
        write(
            "slapd.conf",
            &config(dir.path(), &hash(ADMIN_PASSWORD)?, tls.is_some()),
        )?;
        write("seed.ldif", seed_ldif)?;
        run(Command::new(tool("slapadd")?)
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(path("seed.ldif")))
        .context("slapadd refused the seed LDIF")?;

        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()?;
            let ldaps_port = tls.map(|_| free_port()).transpose()?;
            match spawn(&slapd, &conf, dir.path(), port, ldaps_port) {
                Ok(child) => {
                    return Ok(Slapd {
                        child,
                        port,
                        ldaps_port,
                        dir,
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("slapd did not start")))
    }

    /// `ldap://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}/", self.port)
    }

    /// `ldaps://127.0.0.1:<port>/`, when started with [`Slapd::start_tls`].
    pub fn ldaps_url(&self) -> Option<String> {
        self.ldaps_port
            .map(|port| format!("ldaps://127.0.0.1:{port}/"))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the config, database and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What slapd wrote to stderr (errors only, `-d none`).
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("slapd.log"))
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        // Errors are ignored: it may have exited; the directory goes with
        // `dir`'s own drop afterwards.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts slapd on `port` (and `ldaps_port`) and waits until it accepts
/// connections; kills it when it does not.
fn spawn(
    slapd: &Path,
    conf: &Path,
    dir: &Path,
    port: u16,
    ldaps_port: Option<u16>,
) -> anyhow::Result<Child> {
    let log_path = dir.join("slapd.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut urls = format!("ldap://127.0.0.1:{port}/");
    if let Some(ldaps_port) = ldaps_port {
        urls.push_str(&format!(" ldaps://127.0.0.1:{ldaps_port}/"));
    }
    let mut child = Command::new(slapd)
        .arg("-f")
        .arg(conf)
        .args(["-h", &urls])
        // In the foreground, logging only what is always logged (errors).
        .args(["-d", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot run {}", slapd.display()))?;
    let deadline = Instant::now() + START_TIMEOUT;
    for port in std::iter::once(port).chain(ldaps_port) {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if let Some(status) = child.try_wait().context("cannot wait for slapd")? {
                bail!("slapd exited ({status}) on {urls}: {}", read_log(&log_path));
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!(
                    "slapd did not listen on {address} within {START_TIMEOUT:?}: {}",
                    read_log(&log_path)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Ok(child)
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> anyhow::Result<u16> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The program's path: Debian puts the slapd tools in /usr/sbin, which is
/// not on every user's PATH.
fn tool(name: &str) -> anyhow::Result<PathBuf> {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.is_file() {
        return Ok(sbin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file());
    on_path.with_context(|| {
        format!(
            "{name} is not installed: run `cargo xtask setup` as root, or `apt-get install -y slapd ldap-utils`"
        )
    })
}

/// `{SSHA}...` for `password`, from `slappasswd`.
fn hash(password: &str) -> anyhow::Result<String> {
    let out = run(Command::new(tool("slappasswd")?).args(["-s", password]))?;
    let hash = out.trim();
    if !hash.starts_with('{') {
        bail!("slappasswd printed {hash:?}, not a hash");
    }
    Ok(hash.to_owned())
}

/// The slapd.conf of a private server rooted at `dir`.
fn config(dir: &Path, root_hash: &str, tls: bool) -> String {
    let dir = dir.display();
    let tls = if tls {
        format!("TLSCertificateFile {dir}/server.crt\nTLSCertificateKeyFile {dir}/server.key\n")
    } else {
        String::new()
    };
    format!(
        r#"# A private slapd for Corral's tests; see crates/testing/src/slapd.rs.
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/dyngroup.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload dynlist
pidfile {dir}/slapd.pid
argsfile {dir}/slapd.args
{tls}
database mdb
suffix "{SUFFIX}"
rootdn "{ADMIN_DN}"
rootpw {root_hash}
directory {dir}/db
maxsize 16777216

overlay ppolicy
ppolicy_default "cn=default,ou=policies,{SUFFIX}"
overlay dynlist
dynlist-attrset groupOfURLs memberURL member+memberOf@groupOfNames

access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by dn.exact="{SERVICE_DN}" read
  by self read
  by * none
"#
    )
}

/// The test directory: the suffix, `ou=people` with [`SEED_USERS`] (their
/// passwords hashed by `slappasswd`), `ou=groups` with their
/// `groupOfNames` groups, the service account [`SERVICE_DN`] and the
/// default password policy. `carol` carries `pwdAccountLockedTime`
/// (locked by ppolicy) and `description: disabled`.
pub fn seed_ldif() -> anyhow::Result<String> {
    let mut ldif = format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: corral\no: Corral tests\n\n"
    );
    for ou in ["people", "groups", "services", "policies"] {
        let _ = write!(
            ldif,
            "dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n"
        );
    }
    let _ = write!(
        ldif,
        "dn: {SERVICE_DN}\nobjectClass: applicationProcess\nobjectClass: simpleSecurityObject\n\
         cn: corral\nuserPassword: {}\n\n",
        hash(SERVICE_PASSWORD)?
    );
    let _ = write!(
        ldif,
        "dn: cn=default,ou=policies,{SUFFIX}\nobjectClass: applicationProcess\n\
         objectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE\n\n"
    );
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (index, (login, password, name, user_groups)) in SEED_USERS.iter().enumerate() {
        let surname = name.rsplit(' ').next().unwrap_or(name);
        let _ = write!(
            ldif,
            "dn: uid={login},{PEOPLE_BASE}\nobjectClass: inetOrgPerson\nobjectClass: posixAccount\n\
             uid: {login}\ncn: {name}\nsn: {surname}\nuidNumber: {}\ngidNumber: 1000\n\
             homeDirectory: /home/{login}\nuserPassword: {}\n",
            2000 + index,
            hash(password)?
        );
        if *login == "carol" {
            ldif.push_str("pwdAccountLockedTime: 000001010000Z\ndescription: disabled\n");
        }
        ldif.push('\n');
        for group in *user_groups {
            match groups.iter_mut().find(|(name, _)| name == group) {
                Some((_, members)) => members.push(login),
                None => groups.push((group, vec![login])),
            }
        }
    }
    for (group, members) in groups {
        let rdn = group.replace(',', "\\,");
        let _ = write!(
            ldif,
            "dn: cn={rdn},{GROUPS_BASE}\nobjectClass: groupOfNames\ncn: {group}\n"
        );
        for member in members {
            let _ = writeln!(ldif, "member: uid={member},{PEOPLE_BASE}");
        }
        ldif.push('\n');
    }
    Ok(ldif)
}
