//! Whom a client trusts, and who it is at the TLS layer: the CA pinned for
//! its server (the CLI's config, the agent's state directory) and, for an
//! agent, its node's client certificate.

use std::sync::Arc;

/// A client's TLS side.
#[derive(Clone, Default)]
pub struct Trust {
    /// The CA (PEM) the server's certificate must chain to; nothing else is
    /// trusted. `None`: plain `http://` URLs only.
    pub ca_pem: Option<Arc<str>>,
    /// The client certificate chain and key (PEM) presented to the server.
    pub identity: Option<Arc<(String, String)>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("ca", &self.ca_pem.is_some())
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

impl Trust {
    /// Trusting the CA in `ca_pem` only.
    pub fn pinned(ca_pem: &str) -> Trust {
        Trust {
            ca_pem: Some(ca_pem.into()),
            identity: None,
        }
    }

    /// The same, presenting `chain_pem` and `key_pem`.
    pub fn with_identity(mut self, chain_pem: &str, key_pem: &str) -> Trust {
        self.identity = Some(Arc::new((chain_pem.to_string(), key_pem.to_string())));
        self
    }

    /// The rustls configuration: the pinned CA, or no root at all (every
    /// `https://` server is then refused, plain HTTP still works).
    pub fn rustls_config(&self) -> Result<rustls::ClientConfig, String> {
        let identity = self
            .identity
            .as_deref()
            .map(|(chain, key)| (chain.as_str(), key.as_str()));
        match &self.ca_pem {
            Some(ca) => corral_pki::tls::client_config(ca, identity).map_err(|e| e.to_string()),
            None => {
                let mut config =
                    rustls::ClientConfig::builder_with_provider(corral_pki::provider())
                        .with_safe_default_protocol_versions()
                        .map_err(|e| e.to_string())?
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Ok(config)
            }
        }
    }

    /// A `reqwest` client with this trust (and the usual timeouts of
    /// Corral's clients: 5 s to connect, no Nagle).
    pub fn http_client(&self) -> Result<reqwest::Client, String> {
        reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .tcp_nodelay(true)
            .use_preconfigured_tls(self.rustls_config()?)
            .build()
            .map_err(|e| e.to_string())
    }
}
