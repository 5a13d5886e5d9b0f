//! What compose's `secrets:` and `configs:` share: the top-level
//! declarations (`file:`, `environment:`, `external: true`, `name:`, and
//! for configs `content:`) and the fields of a service's mount (short
//! syntax `- db-password`, long syntax `source`, `target`, `uid`, `gid`,
//! `mode`). `secrets.rs` and `configs.rs` make their mounts of them.
//!
//! Swarm's semantics: a stack's own secret or config is stored as
//! `<stack>_<key>` (or under its `name:`), an external one under its key
//! (or `name:`) and must exist already. The values themselves are not
//! read here: the client reads `file:` (relative to the compose file) and
//! `environment:` and sends them with the deploy; `content:` is in the
//! file itself.

use std::collections::BTreeMap;

use corral_types::validate_secret_name;

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::value::{Kind, Node, Pos};

/// Where a stack's secret or config gets its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// A file the client reads, relative to the compose file.
    File(String),
    /// A variable of the client's environment.
    Environment(String),
    /// The value written in the compose file (`content:`, configs only).
    Content(String),
    /// One that exists already (`corral secret create`, `corral config
    /// create`).
    External,
}

/// A secret or config declared at the top level of a compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    /// The name the services' mounts use in the file.
    pub key: String,
    /// The name it is stored under in the environment.
    pub name: String,
    pub source: FileSource,
    /// The line of its declaration (1-based), for messages.
    pub line: usize,
}

/// Which top-level section is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Secrets,
    Configs,
}

impl Section {
    pub(crate) fn key(self) -> &'static str {
        match self {
            Section::Secrets => "secrets",
            Section::Configs => "configs",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Section::Secrets => "secret",
            Section::Configs => "config",
        }
    }
}

/// The top-level `secrets:` or `configs:` section.
pub(crate) fn declarations(
    ctx: &mut Ctx,
    stack: &str,
    v: &Node,
    section: Section,
) -> Result<BTreeMap<String, StackFile>, ComposeError> {
    let mut out = BTreeMap::new();
    for e in v.map(ctx, section.key())? {
        let key = join(section.key(), &e.key);
        let mut sources = Vec::new();
        let mut name = None;
        for o in e.value.map(ctx, &key)? {
            let ok = join(&key, &o.key);
            match o.key.as_str() {
                "file" => sources.push(FileSource::File(o.value.str(ctx, &ok)?.to_string())),
                "environment" => {
                    sources.push(FileSource::Environment(o.value.str(ctx, &ok)?.to_string()))
                }
                "content" if section == Section::Configs => {
                    sources.push(FileSource::Content(o.value.str(ctx, &ok)?.to_string()))
                }
                "external" => {
                    if external_flag(ctx, &o.value, &ok)? {
                        sources.push(FileSource::External);
                    }
                }
                "name" => name = Some(o.value.str(ctx, &ok)?.to_string()),
                "labels" | "driver" | "driver_opts" | "template_driver" => {
                    let why = format!("corral stores {} itself", section.key());
                    ctx.ignored(o.pos, &ok, &why)
                }
                k if k.starts_with("x-") => {}
                _ => return Err(ctx.unknown(o.pos, &ok)),
            }
        }
        let one_of = match section {
            Section::Secrets => "file:, environment: or external: true",
            Section::Configs => "file:, environment:, content: or external: true",
        };
        let source = match sources.len() {
            1 => sources.remove(0),
            0 => return Err(ctx.invalid(e.pos, &key, format!("give one of {one_of}"))),
            _ => {
                let msg = format!("{one_of} exclude each other");
                return Err(ctx.invalid(e.pos, &key, msg));
            }
        };
        let stored = match (&name, &source) {
            (Some(n), _) => n.clone(),
            (None, FileSource::External) => e.key.clone(),
            (None, _) => format!("{stack}_{}", e.key),
        };
        validate_secret_name(&key, &stored).map_err(|err| ctx.invalid(e.pos, &key, err.message))?;
        out.insert(
            e.key.clone(),
            StackFile {
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

/// One item of a service's `secrets:` or `configs:`, as written.
pub(crate) struct MountFields {
    /// The stored name of the declaration it names.
    pub source: String,
    /// The key it names in the file.
    pub key: String,
    pub target: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub mode: Option<u32>,
    /// `x-corral-env: NAME`: a secret delivered as this environment
    /// variable instead of a file (how `stack export` writes a catalog
    /// app's password answer, so the export deploys as the app ran).
    pub env: String,
    /// Where the item is (its `target:` when it has one), and its dotted
    /// key (`services.web.configs[0]`).
    pub pos: Pos,
    pub at: String,
}

/// A service's `secrets:` or `configs:`; every source must be declared
/// at the top level.
pub(crate) fn mounts(
    ctx: &Ctx,
    v: &Node,
    key: &str,
    declared: &BTreeMap<String, StackFile>,
    section: Section,
) -> Result<Vec<MountFields>, ComposeError> {
    let mut out = Vec::new();
    for (i, item) in v.seq(ctx, key)?.iter().enumerate() {
        let at = index(key, i);
        let (mut target, mut uid, mut gid, mut mode_) = (String::new(), None, None, None);
        let mut env = String::new();
        let mut pos = item.pos;
        let source_key = match &item.kind {
            Kind::Map(entries) => {
                let mut source = None;
                for o in entries {
                    let ok = join(&at, &o.key);
                    match o.key.as_str() {
                        "source" => source = Some(o.value.str(ctx, &ok)?.to_string()),
                        "target" => {
                            target = o.value.str(ctx, &ok)?.to_string();
                            pos = o.pos;
                        }
                        "uid" => uid = Some(id(ctx, &o.value, &ok)?),
                        "gid" => gid = Some(id(ctx, &o.value, &ok)?),
                        "mode" => mode_ = Some(mode(ctx, &o.value, &ok)?),
                        "x-corral-env" if section == Section::Secrets => {
                            env = o.value.str(ctx, &ok)?.to_string();
                        }
                        k if k.starts_with("x-") => {}
                        _ => return Err(ctx.unknown(o.pos, &ok)),
                    }
                }
                source.ok_or_else(|| ctx.invalid(item.pos, &at, "source: is required"))?
            }
            _ => item.str(ctx, &at)?.to_string(),
        };
        let Some(declared) = declared.get(&source_key) else {
            let msg = format!(
                "{} {source_key:?} is not declared under the top-level {}:",
                section.noun(),
                section.key()
            );
            return Err(ctx.err(ComposeError::ResolveReference, item.pos, &at, msg));
        };
        out.push(MountFields {
            source: declared.name.clone(),
            key: source_key,
            target,
            uid,
            gid,
            mode: mode_,
            env,
            pos,
            at,
        });
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
