//! `corral cert create|ls|rm`: TLS certificates for load balancers.
//!
//! The server seals a certificate's key and never answers it (only the
//! agent of a node running a balancer that names the certificate gets
//! it); listings print [`CertRow`] all the same.

mod x509;

use std::path::Path;

use anyhow::Context;
use corral_api::Client;
use corral_types::{Certificate, CertificateSpec, Kind, Object};
use serde::Serialize;

use crate::args::{CertCmd, CertCreateArgs, CertRmArgs};
use crate::errors::{list_error, object_error};
use crate::output::{Row, print, print_rows};

pub(crate) async fn run(client: &Client, env: &str, cmd: CertCmd) -> anyhow::Result<()> {
    match cmd {
        CertCmd::Create(args) => {
            let cert = build_certificate(env, &args)?;
            let created = client
                .create(&cert)
                .await
                .map_err(|e| object_error(e, "create", "certificate", env, &args.name))?;
            print(&format!("{}\n", created.meta.name))
        }
        CertCmd::Ls(args) => {
            let list = client
                .list::<CertificateSpec, _>(env, Kind::Certificate, "")
                .await
                .map_err(|e| list_error(e, "certificates", env))?;
            print_rows(&cert_rows(&list.items), args.output)
        }
        CertCmd::Rm(args) => remove(client, env, &args).await,
    }
}

/// The certificate object the files hold, checked as the server checks it;
/// a field at fault is named by its flag and file.
pub(crate) fn build_certificate(env: &str, args: &CertCreateArgs) -> anyhow::Result<Certificate> {
    let spec = CertificateSpec {
        certificate: read_pem("--cert", &args.cert_file)?,
        key: read_pem("--key", &args.key_file)?,
        sealed_key: None,
    };
    if let Err(e) = spec.validate() {
        let (flag, file) = if e.field == "spec.key" {
            ("--key", &args.key_file)
        } else {
            ("--cert", &args.cert_file)
        };
        anyhow::bail!("{flag} {}: {}", file.display(), e.message);
    }
    Ok(Object::new(Kind::Certificate, env, &args.name, spec))
}

fn read_pem(flag: &str, file: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(file).with_context(|| format!("cannot read {flag} {}", file.display()))
}

/// Removes every certificate named; a failure does not stop the others.
async fn remove(client: &Client, env: &str, args: &CertRmArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.names {
        match client.delete(env, Kind::Certificate, name).await {
            Ok(()) => print(&format!("{name}\n"))?,
            Err(e) => {
                failures.push(object_error(e, "remove", "certificate", env, name).to_string())
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    }
}

/// One certificate as `cert ls` shows it: no key, no PEM.
#[derive(Debug, Serialize)]
pub(crate) struct CertRow {
    pub name: String,
    /// Subject alternative names, else the common name; empty when unreadable.
    pub names: Vec<String>,
    /// When the certificate expires (`notAfter`); empty when unreadable.
    pub expires: String,
    pub created: String,
}

impl From<&Certificate> for CertRow {
    fn from(c: &Certificate) -> Self {
        let summary = x509::summarize(&c.spec.certificate).unwrap_or_default();
        CertRow {
            name: c.meta.name.clone(),
            names: summary.names,
            expires: summary.not_after,
            created: c.meta.created.clone(),
        }
    }
}

impl Row for CertRow {
    const HEADERS: &'static [&'static str] = &["NAME", "NAMES", "EXPIRES", "CREATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.names.join(","),
            self.expires.clone(),
            self.created.clone(),
        ]
    }
}

/// Rows sorted by name.
pub(crate) fn cert_rows(certs: &[Certificate]) -> Vec<CertRow> {
    let mut rows: Vec<CertRow> = certs.iter().map(CertRow::from).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::{Format, render_rows};
    use clap::Parser;

    const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nSECRETKEY\n-----END PRIVATE KEY-----\n";

    fn create_args(dir: &Path, cert: &str, key: &str) -> CertCreateArgs {
        let argv = [
            "corral", "cert", "create", "shop", "--cert", cert, "--key", key,
        ];
        let argv = argv.map(|a| {
            if a.ends_with(".pem") {
                dir.join(a).display().to_string()
            } else {
                a.to_string()
            }
        });
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Cert(CertCmd::Create(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_files_become_the_certificate_object() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), CERT).unwrap();
        std::fs::write(dir.path().join("k.pem"), KEY).unwrap();
        let c = build_certificate("prod", &create_args(dir.path(), "c.pem", "k.pem")).unwrap();
        assert_eq!(
            (c.kind, c.meta.environment.as_str()),
            (Kind::Certificate, "prod")
        );
        assert_eq!(
            (c.spec.certificate.as_str(), c.spec.key.as_str()),
            (CERT, KEY)
        );
    }

    #[test]
    fn a_missing_or_wrong_file_is_an_error_naming_the_flag_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), CERT).unwrap();
        std::fs::write(dir.path().join("k.pem"), KEY).unwrap();
        let e = build_certificate("d", &create_args(dir.path(), "c.pem", "nokey.pem"));
        let e = format!("{:#}", e.unwrap_err());
        assert!(
            e.starts_with("cannot read --key ") && e.contains("nokey.pem"),
            "{e}"
        );
        let e = build_certificate("d", &create_args(dir.path(), "nocert.pem", "k.pem"));
        let e = format!("{:#}", e.unwrap_err());
        assert!(
            e.starts_with("cannot read --cert ") && e.contains("nocert.pem"),
            "{e}"
        );
        let e = build_certificate("d", &create_args(dir.path(), "k.pem", "k.pem"));
        let e = e.unwrap_err().to_string();
        assert!(
            e.starts_with("--cert ") && e.contains("k.pem: is not PEM"),
            "{e}"
        );
        let e = build_certificate("d", &create_args(dir.path(), "c.pem", "c.pem"));
        let e = e.unwrap_err().to_string();
        assert!(e.starts_with("--key ") && e.contains("c.pem"), "{e}");
    }

    #[test]
    fn listings_never_show_the_key() {
        let spec = CertificateSpec {
            certificate: CERT.into(),
            key: KEY.into(),
            sealed_key: None,
        };
        let rows = cert_rows(&[Object::new(Kind::Certificate, "d", "shop", spec)]);
        for format in [Format::Json, Format::Yaml, Format::Table] {
            let out = render_rows(&rows, format).unwrap();
            assert!(!out.contains("SECRETKEY") && !out.contains("key"), "{out}");
            assert!(out.contains("shop"), "{out}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        let keys: Vec<&String> = json[0].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["created", "expires", "name", "names"]);
    }
}
