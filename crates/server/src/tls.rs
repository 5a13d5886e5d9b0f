//! The API server's TLS: the internal CA (`corral_pki::Authority`, made on
//! the first start), the certificate the server presents (issued at every
//! start for the host's names and addresses, or the operator's own with
//! `--tls-cert/--tls-key`), and what clients pin (the CA the presented
//! chain ends in).

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use corral_pki::Authority;

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Issued by the internal CA at every start, for the listen address
    /// (every local address when it listens on all), the host name,
    /// `localhost` and `extra_names`.
    #[default]
    Internal,
    /// The operator's own certificate chain and key (PEM files).
    Files { cert: PathBuf, key: PathBuf },
    /// Plain HTTP. Only for measuring what TLS costs (`cargo xtask bench
    /// auth`); `corral server` and `corral up` cannot choose it.
    Off,
}

/// What [`prepare`] gives the server.
pub struct ServerTls {
    /// The rustls configuration; `None` with [`TlsMode::Off`].
    pub config: Option<Arc<rustls::ServerConfig>>,
    /// The CA clients pin: the last certificate of the presented chain.
    pub ca_pem: String,
    /// Its fingerprint.
    pub ca_fingerprint: String,
}

/// The TLS configuration for a server listening on `listen`.
pub fn prepare(
    authority: &Authority,
    mode: &TlsMode,
    listen: SocketAddr,
    extra_names: &[String],
) -> anyhow::Result<ServerTls> {
    match mode {
        TlsMode::Off => Ok(ServerTls {
            config: None,
            ca_pem: authority.cert_pem().to_string(),
            ca_fingerprint: authority.fingerprint().to_string(),
        }),
        TlsMode::Internal => {
            let names = server_names(listen, extra_names);
            let issued = authority
                .issue_server(&names)
                .context("issuing the server's certificate")?;
            let config = corral_pki::tls::server_config(
                &issued.chain_pem,
                &issued.key_pem,
                authority.cert_pem(),
            )?;
            tracing::info!(
                "serving HTTPS for {}; CA fingerprint {}",
                names.join(", "),
                authority.fingerprint()
            );
            Ok(ServerTls {
                config: Some(config),
                ca_pem: authority.cert_pem().to_string(),
                ca_fingerprint: authority.fingerprint().to_string(),
            })
        }
        TlsMode::Files { cert, key } => {
            let chain = read(cert, "--tls-cert")?;
            let key_pem = read(key, "--tls-key")?;
            let certs = corral_pki::certs_of_pem(&chain)
                .with_context(|| format!("--tls-cert {}", cert.display()))?;
            let config = corral_pki::tls::server_config(&chain, &key_pem, authority.cert_pem())
                .with_context(|| {
                    format!(
                        "--tls-cert {} / --tls-key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            let last = certs.last().map(|c| c.as_ref()).unwrap_or_default();
            Ok(ServerTls {
                config: Some(config),
                ca_pem: corral_pki::first_contact::pem_of_der(last),
                ca_fingerprint: corral_pki::fingerprint(last),
            })
        }
    }
}

fn read(path: &Path, flag: &str) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{flag} {}", path.display()))
}

/// The names the internal certificate is valid for.
fn server_names(listen: SocketAddr, extra: &[String]) -> Vec<String> {
    let mut names: BTreeSet<String> = extra.iter().cloned().collect();
    names.insert("127.0.0.1".into());
    names.insert("::1".into());
    if listen.ip().is_unspecified() {
        names.extend(local_addresses().iter().map(IpAddr::to_string));
    } else {
        names.insert(listen.ip().to_string());
    }
    if let Ok(host) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        let host = host.trim();
        if !host.is_empty() {
            names.insert(host.to_string());
        }
    }
    names.into_iter().collect()
}

/// The host's own addresses: IPv4 from the kernel's routing trie (its
/// `LOCAL` entries), IPv6 from `/proc/net/if_inet6`.
fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(local_v4_of_fib_trie(&trie).into_iter().map(IpAddr::V4));
    }
    if let Ok(v6) = std::fs::read_to_string("/proc/net/if_inet6") {
        for line in v6.lines() {
            let Some(hex) = line.split_whitespace().next() else {
                continue;
            };
            if let Ok(bits) = u128::from_str_radix(hex, 16) {
                let ip = std::net::Ipv6Addr::from(bits);
                // Link-local addresses need a zone; nobody connects to them by URL.
                if ip.segments()[0] & 0xffc0 != 0xfe80 {
                    out.push(IpAddr::V6(ip));
                }
            }
        }
    }
    out
}

/// The addresses marked `/32 host LOCAL` in `/proc/net/fib_trie`.
fn local_v4_of_fib_trie(text: &str) -> BTreeSet<std::net::Ipv4Addr> {
    let mut out = BTreeSet::new();
    let mut last: Option<std::net::Ipv4Addr> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(addr) = t.strip_prefix("|-- ").or_else(|| t.strip_prefix("+-- ")) {
            last = addr.split('/').next().and_then(|a| a.trim().parse().ok());
        } else if t.starts_with("/32 host LOCAL")
            && let Some(addr) = last
        {
            out.insert(addr);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn local_addresses_are_the_host_entries_of_the_routing_trie() {
        let trie = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.0\n           /24 link UNICAST\n        |-- 10.0.2.15\n           /32 host LOCAL\n     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n";
        let found: Vec<String> = local_v4_of_fib_trie(trie)
            .iter()
            .map(|a| a.to_string())
            .collect();
        assert_eq!(found, ["10.0.2.15", "127.0.0.1"]);
    }

    #[test]
    fn a_server_on_one_address_names_it_and_loopback() {
        let names = server_names("10.1.2.3:7480".parse().unwrap(), &["corral.example".into()]);
        for want in ["10.1.2.3", "127.0.0.1", "corral.example"] {
            assert!(names.iter().any(|n| n == want), "{names:?} lacks {want}");
        }
    }
}
