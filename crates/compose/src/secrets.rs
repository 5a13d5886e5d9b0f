//! Compose `secrets:`: the top-level declarations (`file:`,
//! `environment:`, `external: true`, `name:`) and a service's mounts
//! (short syntax `- db-password`, long syntax `source`, `target`, `uid`,
//! `gid`, `mode`).
//!
//! Swarm's semantics: a stack's own secret is stored as
//! `<stack>_<key>` (or under its `name:`), an external one under its key
//! (or `name:`) and must exist already; a mount's target defaults to the
//! key, so the container reads `/run/secrets/db-password` whatever the
//! stored name. The values themselves are not read here: the client
//! reads `file:` (relative to the compose file) and `environment:` and
//! sends them with the deploy.

use std::collections::BTreeMap;

use corral_types::{SecretMount, validate_secret_name};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::value::{Kind, Node};

/// Where a stack's secret gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file the client reads, relative to the compose file.
    File(String),
    /// A variable of the client's environment.
    Environment(String),
    /// A secret that exists already (created with `corral secret create`).
    External,
}

/// A secret declared at the top level of a compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSecret {
    /// The name the services' mounts use in the file.
    pub key: String,
    /// The name it is stored under in the environment.
    pub name: String,
    pub source: SecretSource,
    /// The line of its declaration (1-based), for messages.
    pub line: usize,
}

/// The top-level `secrets:` section.
pub(crate) fn declarations(
    ctx: &mut Ctx,
    stack: &str,
    v: &Node,
) -> Result<BTreeMap<String, StackSecret>, ComposeError> {
    let mut out = BTreeMap::new();
    for e in v.map(ctx, "secrets")? {
        let key = join("secrets", &e.key);
        let mut file = None;
        let mut environment = None;
        let mut external = false;
        let mut name = None;
        for o in e.value.map(ctx, &key)? {
            let ok = join(&key, &o.key);
            match o.key.as_str() {
                "file" => file = Some(o.value.str(ctx, &ok)?.to_string()),
                "environment" => environment = Some(o.value.str(ctx, &ok)?.to_string()),
                "external" => external = external_flag(ctx, &o.value, &ok)?,
                "name" => name = Some(o.value.str(ctx, &ok)?.to_string()),
                "labels" | "driver" | "driver_opts" | "template_driver" => {
                    ctx.ignored(o.pos, &ok, "corral stores secrets itself")
                }
                k if k.starts_with("x-") => {}
                _ => return Err(ctx.unknown(o.pos, &ok)),
            }
        }
        let source = match (file, environment, external) {
            (Some(f), None, false) => SecretSource::File(f),
            (None, Some(var), false) => SecretSource::Environment(var),
            (None, None, true) => SecretSource::External,
            (None, None, false) => {
                let msg = "give one of file:, environment: or external: true";
                return Err(ctx.invalid(e.pos, &key, msg));
            }
            _ => {
                let msg = "file:, environment: and external: exclude each other";
                return Err(ctx.invalid(e.pos, &key, msg));
            }
        };
        let stored = match (&name, &source) {
            (Some(n), _) => n.clone(),
            (None, SecretSource::External) => e.key.clone(),
            (None, _) => format!("{stack}_{}", e.key),
        };
        validate_secret_name(&key, &stored).map_err(|err| ctx.invalid(e.pos, &key, err.message))?;
        out.insert(
            e.key.clone(),
            StackSecret {
                key: e.key.clone(),
                name: stored,
                source,
                line: e.pos.line,
            },
        );
    }
    Ok(out)
}

/// `external: true`, or the v3.0 form `external: {name: X}` (read as true;
/// its name is then taken from `name:`).
fn external_flag(ctx: &Ctx, v: &Node, key: &str) -> Result<bool, ComposeError> {
    match &v.kind {
        Kind::Map(_) => Ok(true),
        _ => v.bool(ctx, key),
    }
}

/// A service's `secrets:`; every source must be declared at the top level.
pub(crate) fn mounts(
    ctx: &Ctx,
    v: &Node,
    key: &str,
    declared: &BTreeMap<String, StackSecret>,
) -> Result<Vec<SecretMount>, ComposeError> {
    let mut out = Vec::new();
    for (i, item) in v.seq(ctx, key)?.iter().enumerate() {
        let at = index(key, i);
        let mut m = SecretMount::default();
        let source_key = match &item.kind {
            Kind::Map(entries) => {
                let mut source = None;
                for o in entries {
                    let ok = join(&at, &o.key);
                    match o.key.as_str() {
                        "source" => source = Some(o.value.str(ctx, &ok)?.to_string()),
                        "target" => m.target = o.value.str(ctx, &ok)?.to_string(),
                        "uid" => m.uid = Some(id(ctx, &o.value, &ok)?),
                        "gid" => m.gid = Some(id(ctx, &o.value, &ok)?),
                        "mode" => m.mode = Some(mode(ctx, &o.value, &ok)?),
                        k if k.starts_with("x-") => {}
                        _ => return Err(ctx.unknown(o.pos, &ok)),
                    }
                }
                source.ok_or_else(|| ctx.invalid(item.pos, &at, "source: is required"))?
            }
            _ => item.str(ctx, &at)?.to_string(),
        };
        let Some(declared) = declared.get(&source_key) else {
            let msg = format!("secret {source_key:?} is not declared under the top-level secrets:");
            return Err(ctx.err(ComposeError::ResolveReference, item.pos, &at, msg));
        };
        if m.target.is_empty() {
            m.target = source_key;
        }
        m.source = declared.name.clone();
        out.push(m);
    }
    Ok(out)
}

/// `uid:`/`gid:`: a number, written as a string in the Compose
/// Specification (`uid: "103"`).
fn id(ctx: &Ctx, v: &Node, key: &str) -> Result<u32, ComposeError> {
    let s = v.str(ctx, key)?;
    s.trim().parse::<u32>().map_err(|_| {
        ctx.invalid(
            v.pos,
            key,
            format!("{s:?} is not a numeric user or group id"),
        )
    })
}

/// `mode:` as compose files write it: octal (`0440`, `0o440`), or a
/// decimal number YAML 1.1 readers would have made of it (`288`).
fn mode(ctx: &Ctx, v: &Node, key: &str) -> Result<u32, ComposeError> {
    let s = v.str(ctx, key)?.trim();
    let parsed = if let Some(oct) = s.strip_prefix("0o").or_else(|| s.strip_prefix("0O")) {
        u32::from_str_radix(oct, 8).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse::<u32>().ok()
    };
    match parsed {
        Some(m) if m <= 0o777 => Ok(m),
        _ => Err(ctx.invalid(
            v.pos,
            key,
            format!("{s:?} is not a file mode (octal, at most 0777, such as 0440)"),
        )),
    }
}
