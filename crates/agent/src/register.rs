//! The agent's own credential. At its first start an agent exchanges the
//! token it was given (a registration token, or an admin's credential in
//! tests and benchmarks) for a credential of its node (`POST
//! /v1/register`), and keeps it in its state directory (mode 0600); from
//! then on it acts as that node only, and the token it was given is no
//! longer needed.
//!
//! TLS: the CA is pinned before anything is sent. `corral up` hands it
//! over; a remote agent reads it from the server on first contact and
//! checks its fingerprint (`--ca-fingerprint`, printed by `corral host
//! add-command`), so a token never goes to a server that is not the one
//! meant. The agent makes its node's key, sends a signing request with the
//! registration, and from then on presents the certificate it got (mutual
//! TLS); the server takes the node's credential only with it. The
//! certificate is renewed when less than a third of its life is left: at
//! start, and while the agent runs (checked every
//! [`AgentOptions::renewal_check`]; the agent then starts its session again
//! with the new certificate, see `crate::run_agent`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use corral_api::{Client, RegisterRequest};

use crate::AgentOptions;

/// What an agent keeps between starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub server: String,
    pub environment: String,
    pub node: String,
    /// The node's bearer token.
    pub credential: String,
    /// What the server presents to this agent's own endpoint.
    pub endpoint_key: String,
    /// The CA pinned for the server (PEM; empty for a plain-HTTP server).
    #[serde(default)]
    pub ca_pem: String,
    /// The node's client certificate and the CA's (PEM).
    #[serde(default)]
    pub certificate_pem: String,
    /// The node's private key (PEM).
    #[serde(default)]
    pub key_pem: String,
}

impl Identity {
    /// The TLS side of the agent's client: the pinned CA and the node's
    /// certificate.
    pub fn trust(&self) -> corral_api::Trust {
        if self.ca_pem.is_empty() {
            return corral_api::Trust::default();
        }
        let trust = corral_api::Trust::pinned(&self.ca_pem);
        if self.certificate_pem.is_empty() {
            trust
        } else {
            trust.with_identity(&self.certificate_pem, &self.key_pem)
        }
    }
}

/// The CA to pin for `options.server_url`: the one given, else the one the
/// server presents if its fingerprint is the expected one. `None` for a
/// plain `http://` server.
async fn pinned_ca(options: &AgentOptions) -> anyhow::Result<Option<String>> {
    if let Some(ca) = &options.ca_pem {
        return Ok(Some(ca.clone()));
    }
    if !options.server_url.starts_with("https://") {
        return Ok(None);
    }
    let Some(expected) = &options.ca_fingerprint else {
        anyhow::bail!(
            "--ca-fingerprint is required to trust {} on first contact (corral host add-command prints it)",
            options.server_url
        );
    };
    let expected = corral_pki::normalize_fingerprint(expected)
        .map_err(|e| anyhow::anyhow!("--ca-fingerprint: {e}"))?;
    let presented =
        corral_pki::first_contact::fetch_ca(&options.server_url, Some(&expected)).await?;
    Ok(Some(presented.ca_pem))
}

/// Whether a node certificate (PEM) should be renewed now: less than a
/// third of its life left, or unreadable.
pub(crate) fn renewal_due(certificate_pem: &str) -> bool {
    corral_pki::renewal_due(
        certificate_pem,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
}

/// A new client certificate for the identity's node, with a new key, kept
/// in the state directory when there is one.
pub(crate) async fn renew(options: &AgentOptions, id: &mut Identity) -> anyhow::Result<()> {
    renew_certificate(id).await?;
    if let Some(dir) = &options.state_dir {
        save(dir, id)?;
    }
    tracing::info!(
        "node {}/{}: new client certificate",
        id.environment,
        id.node
    );
    Ok(())
}

async fn renew_certificate(id: &mut Identity) -> anyhow::Result<()> {
    let key = corral_pki::NodeKey::generate()?;
    let csr_pem = key.csr_pem(&id.node)?;
    let client = Client::with_trust(&id.server, &id.credential, id.trust())?;
    let answer = client
        .renew_node_certificate(
            &id.environment,
            &id.node,
            &corral_api::CertificateRequest { csr_pem },
        )
        .await
        .with_context(|| format!("renewing the client certificate of node {}", id.node))?;
    id.certificate_pem = answer.certificate_pem;
    id.key_pem = key.key_pem();
    Ok(())
}

const FILE: &str = "credential.json";

fn path_in(dir: &Path) -> PathBuf {
    dir.join(FILE)
}

/// The identity kept in `dir` for this server and node, if any.
pub fn load(dir: &Path, server: &str, node: &str) -> anyhow::Result<Option<Identity>> {
    let path = path_in(dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let id: Identity = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an agent credential; delete it to register again",
            path.display()
        )
    })?;
    Ok((id.server == server && id.node == node).then_some(id))
}

/// Keeps `id` in `dir` (0700), readable by its owner only.
pub fn save(dir: &Path, id: &Identity) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    let path = path_in(dir);
    let tmp = dir.join(format!("{FILE}.tmp"));
    let body = serde_json::to_vec_pretty(id)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(&body)?;
    file.sync_all()?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// The node's identity: the one kept in the state directory, else a new
/// one from the server, retried every 2 s until it answers (a refusal
/// other than a transport error ends the agent: the token is wrong).
/// `None` when shutdown came first.
pub async fn identity(
    options: &AgentOptions,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<Option<Identity>> {
    if let Some(dir) = &options.state_dir
        && let Some(mut id) = load(dir, &options.server_url, &options.name)?
    {
        tracing::info!(
            "node {}/{}: using the credential in {}",
            id.environment,
            id.node,
            dir.display()
        );
        if id.ca_pem.is_empty() && options.server_url.starts_with("https://") {
            id.ca_pem = pinned_ca(options).await?.unwrap_or_default();
        }
        if !id.ca_pem.is_empty() && renewal_due(&id.certificate_pem) {
            renew(options, &mut id).await?;
        }
        return Ok(Some(id));
    }
    if options.token.is_empty() {
        anyhow::bail!(
            "this agent has no credential yet: give it a registration token (corral host add-command prints the line)"
        );
    }
    let ca_pem = pinned_ca(options).await?;
    let trust = ca_pem
        .as_deref()
        .map(corral_api::Trust::pinned)
        .unwrap_or_default();
    let client = Client::with_trust(&options.server_url, &options.token, trust)?;
    let key = corral_pki::NodeKey::generate()?;
    let csr_pem = if ca_pem.is_some() {
        key.csr_pem(&options.name)?
    } else {
        String::new()
    };
    // A registration token names its environment; anything else that may
    // register (an admin's credential) needs one given.
    let environment = if options.token.starts_with("crl_r_") {
        String::new()
    } else {
        options.environment.clone()
    };
    let req = RegisterRequest {
        node: options.name.clone(),
        environment,
        csr_pem,
    };
    loop {
        match client.register(&req).await {
            Ok(answer) => {
                let id = Identity {
                    server: options.server_url.clone(),
                    environment: answer.environment,
                    node: answer.node,
                    credential: answer.credential,
                    endpoint_key: answer.endpoint_key,
                    ca_pem: ca_pem.clone().unwrap_or_default(),
                    key_pem: if answer.certificate_pem.is_empty() {
                        String::new()
                    } else {
                        key.key_pem()
                    },
                    certificate_pem: answer.certificate_pem,
                };
                if let Some(dir) = &options.state_dir {
                    save(dir, &id)?;
                }
                tracing::info!("node {}/{} registered", id.environment, id.node);
                return Ok(Some(id));
            }
            Err(e) if e.status().is_some() => {
                return Err(anyhow::anyhow!(
                    "registering with {}: {e}",
                    options.server_url
                ));
            }
            Err(e) => tracing::warn!("registering: {e}; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.wait_for(|s| *s) => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_saved_credential_is_private_and_read_back_for_the_same_server_and_node() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("agent");
        let id = Identity {
            server: "http://s".into(),
            environment: "dev".into(),
            node: "n1".into(),
            credential: "crl_n_a_b".into(),
            endpoint_key: "k".into(),
            ca_pem: String::new(),
            certificate_pem: String::new(),
            key_pem: String::new(),
        };
        save(&state, &id).unwrap();
        let mode = std::fs::metadata(state.join(FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
        assert_eq!(load(&state, "http://s", "n1").unwrap(), Some(id));
        assert_eq!(load(&state, "http://other", "n1").unwrap(), None);
        assert_eq!(load(&state, "http://s", "n2").unwrap(), None);
    }
}
