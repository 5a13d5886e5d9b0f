//! `corral secret create|update|ls|inspect|rm|rotate-key`. The server
//! never answers a value, so nothing here prints one.

use std::io::Read;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_api::Client;
use corral_types::{MAX_SECRET_BYTES, Secret, SecretValueRequest};
use serde::Serialize;

use crate::args::{SecretCmd, SecretValueArgs};
use crate::errors::{for_each, list_error, object_error, request_error};
use crate::output::{Row, print, print_rows, render_object};
use crate::typed::decode_all;

pub(crate) async fn run(client: &Client, env: &str, cmd: SecretCmd) -> anyhow::Result<()> {
    match cmd {
        SecretCmd::Create(args) => {
            let req = request(&args, true, "secret")?;
            let created = client
                .create_secret(env, &req)
                .await
                .map_err(|e| object_error(e, "create", "secret", env, &args.name))?;
            print(&format!("{}\n", created.meta.name))
        }
        SecretCmd::Update(args) => {
            let req = request(&args, false, "secret")?;
            let updated = client
                .update_secret(env, &args.name, &req)
                .await
                .map_err(|e| object_error(e, "update", "secret", env, &args.name))?;
            let secret: Vec<Secret> = decode_all(vec![updated], "secret")?;
            let version = secret.first().map(|s| s.status.version).unwrap_or_default();
            print(&format!("{} version {version}\n", args.name))
        }
        SecretCmd::Ls(args) => {
            let list = client
                .secrets(env)
                .await
                .map_err(|e| list_error(e, "secrets", env))?;
            let secrets: Vec<Secret> = decode_all(list.items, "secret")?;
            print_rows(&secret_rows(&secrets), args.output)
        }
        SecretCmd::Inspect(args) => {
            let raw = client
                .secret(env, &args.name)
                .await
                .map_err(|e| object_error(e, "inspect", "secret", env, &args.name))?;
            print(&render_object(&raw, args.output)?)
        }
        SecretCmd::Rm(args) => {
            for_each(&args.names, "remove secret", |name| async move {
                client.remove_secret(env, &name).await.map(drop)
            })
            .await
        }
        SecretCmd::RotateKey => {
            let answer = client
                .rotate_secret_key()
                .await
                .map_err(|e| request_error(e, "rotate the secret key"))?;
            print(&format!(
                "new key {}; {} secret(s) and certificate key(s) re-sealed\n",
                answer["key_id"].as_str().unwrap_or_default(),
                answer["resealed"].as_u64().unwrap_or_default()
            ))
        }
    }
}

/// The request body of a secret or config (`noun`): the value from
/// exactly one of -f, --from-literal, -.
pub(crate) fn request(
    args: &SecretValueArgs,
    with_name: bool,
    noun: &str,
) -> anyhow::Result<SecretValueRequest> {
    let value = match (&args.file, &args.from_literal, args.stdin) {
        (Some(file), None, None) => {
            std::fs::read(file).with_context(|| format!("cannot read -f {}", file.display()))?
        }
        (None, Some(literal), None) => literal.clone().into_bytes(),
        (None, None, Some(_)) => {
            let mut buf = Vec::new();
            std::io::stdin()
                .take(MAX_SECRET_BYTES as u64 + 1)
                .read_to_end(&mut buf)
                .context("cannot read the value from standard input")?;
            buf
        }
        _ => anyhow::bail!(
            "give the value of {noun} {:?} with one of -f FILE, --from-literal VALUE or - (standard input)",
            args.name
        ),
    };
    if value.len() > MAX_SECRET_BYTES {
        anyhow::bail!(
            "the value of {noun} {:?} is larger than {MAX_SECRET_BYTES} bytes",
            args.name
        );
    }
    Ok(SecretValueRequest {
        name: if with_name {
            args.name.clone()
        } else {
            String::new()
        },
        value: B64.encode(value),
        labels: Default::default(),
    })
}

/// One secret as `secret ls` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct SecretRow {
    pub name: String,
    pub version: u64,
    pub size: u64,
    pub digest: String,
    pub updated: String,
}

impl Row for SecretRow {
    const HEADERS: &'static [&'static str] = &["NAME", "VERSION", "SIZE", "DIGEST", "UPDATED"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.version.to_string(),
            self.size.to_string(),
            self.digest.clone(),
            self.updated.clone(),
        ]
    }
}

pub(crate) fn secret_rows(secrets: &[Secret]) -> Vec<SecretRow> {
    let mut rows: Vec<SecretRow> = secrets
        .iter()
        .map(|s| SecretRow {
            name: s.meta.name.clone(),
            version: s.status.version,
            size: s.status.size,
            digest: s.status.digest.clone(),
            updated: s.status.updated.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied()))
    }

    fn value_args(args: &[&str]) -> SecretValueArgs {
        match parse(args).unwrap().command {
            Command::Secret(SecretCmd::Create(a) | SecretCmd::Update(a)) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_value_comes_from_exactly_one_place() {
        let a = value_args(&[
            "secret",
            "create",
            "db_password",
            "--from-literal",
            "s3cret",
        ]);
        assert_eq!(
            B64.decode(request(&a, true, "secret").unwrap().value)
                .unwrap(),
            b"s3cret"
        );
        let a = value_args(&["secret", "create", "db_password", "-"]);
        assert!(a.stdin.is_some());
        let a = value_args(&["secret", "update", "db_password"]);
        let err = request(&a, false, "secret").unwrap_err().to_string();
        assert!(err.contains("-f FILE"), "{err}");
        assert!(parse(&["secret", "create", "x", "-f", "f", "--from-literal", "v"]).is_err());
        assert!(parse(&["secret", "create", "x", "nonsense"]).is_err());
    }

    #[test]
    fn a_bad_secret_name_is_refused_before_any_request() {
        let err = parse(&["secret", "create", "a/b", "--from-literal", "v"]).unwrap_err();
        assert!(err.to_string().contains("may hold only"), "{err}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let a = value_args(&["secret", "create", "x", "-f", "/nonexistent/pw"]);
        let err = request(&a, true, "secret").unwrap_err().to_string();
        assert!(err.contains("/nonexistent/pw"), "{err}");
    }
}
