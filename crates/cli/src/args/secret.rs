//! The arguments of `corral secret create|update|ls|inspect|rm|rotate-key`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::ListArgs;
use crate::output::ObjectFormat;

#[derive(Debug, Subcommand)]
pub enum SecretCmd {
    /// Store a secret (sealed at rest; services mount it at /run/secrets/NAME).
    Create(SecretValueArgs),
    /// Store a new version of a secret's value; the services that mount it roll to it.
    Update(SecretValueArgs),
    /// List secrets (name, version, size, digest; never the value).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Show a secret's metadata (never the value).
    Inspect(SecretInspectArgs),
    /// Remove secrets no service mounts.
    #[command(visible_alias = "remove")]
    Rm(SecretRmArgs),
    /// Make a new key-encryption key and re-seal every secret under it (admins).
    RotateKey,
}

/// Where a value comes from: exactly one of a file, a literal, or `-`
/// (standard input). Secrets and configs alike.
#[derive(Debug, Clone, Args)]
pub struct SecretValueArgs {
    /// Name: letters, digits, '.', '_' and '-'.
    #[arg(value_parser = parse_secret_name)]
    pub name: String,
    /// `-` reads the value from standard input.
    #[arg(value_name = "-", conflicts_with_all = ["file", "from_literal"])]
    pub stdin: Option<StdinMarker>,
    /// Read the value from FILE.
    #[arg(
        short = 'f',
        long,
        value_name = "FILE",
        conflicts_with = "from_literal"
    )]
    pub file: Option<PathBuf>,
    /// The value itself (it stays in your shell's history: for a secret,
    /// prefer -f or -).
    #[arg(long, value_name = "VALUE")]
    pub from_literal: Option<String>,
}

/// The `-` of `corral secret create NAME -`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StdinMarker;

impl std::str::FromStr for StdinMarker {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "-" {
            Ok(StdinMarker)
        } else {
            Err(format!(
                "{s:?}: give the value with -f FILE, --from-literal VALUE, or - (standard input)"
            ))
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct SecretInspectArgs {
    #[arg(value_parser = parse_secret_name)]
    pub name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub output: ObjectFormat,
}

#[derive(Debug, Clone, Args)]
pub struct SecretRmArgs {
    /// Secret names.
    #[arg(required = true, value_parser = parse_secret_name)]
    pub names: Vec<String>,
}

/// `--secret NAME` or `--secret source=NAME,target=PATH,uid=N,gid=N,mode=0440`.
pub fn parse_secret_mount(s: &str) -> Result<corral_types::SecretMount, String> {
    let f = parse_mount_fields(s)?;
    let m = corral_types::SecretMount {
        source: f.source,
        target: f.target,
        uid: f.uid,
        gid: f.gid,
        mode: f.mode,
        env: String::new(),
        version: 0,
    };
    m.validate("--secret").map_err(|e| e.to_string())?;
    Ok(m)
}

/// The fields of a `--secret` or `--config` flag, unchecked.
#[derive(Debug, Default)]
pub(super) struct MountFields {
    pub source: String,
    pub target: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: Option<u32>,
}

/// `NAME` or `source=NAME,target=PATH,uid=N,gid=N,mode=0440` (Swarm's).
pub(super) fn parse_mount_fields(s: &str) -> Result<MountFields, String> {
    let mut m = MountFields::default();
    if !s.contains('=') {
        m.source = parse_secret_name(s)?;
        return Ok(m);
    }
    for part in s.split(',') {
        let (k, v) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected KEY=VALUE"))?;
        let number = |v: &str| {
            v.parse::<u32>()
                .map_err(|_| format!("{k}={v}: not a number"))
        };
        match k {
            "source" | "src" => m.source = parse_secret_name(v)?,
            "target" => m.target = v.to_string(),
            "uid" => m.uid = Some(number(v)?),
            "gid" => m.gid = Some(number(v)?),
            "mode" => {
                let octal = v.strip_prefix("0o").unwrap_or(v);
                m.mode = Some(
                    u32::from_str_radix(octal, 8)
                        .map_err(|_| format!("mode={v}: not an octal mode such as 0440"))?,
                );
            }
            _ => {
                return Err(format!(
                    "{k:?}: the keys are source, target, uid, gid and mode"
                ));
            }
        }
    }
    if m.source.is_empty() {
        return Err("source=NAME is required".into());
    }
    Ok(m)
}

pub fn parse_secret_name(s: &str) -> Result<String, String> {
    corral_types::validate_secret_name("name", s)
        .map(|()| s.to_string())
        .map_err(|e| e.message)
}
