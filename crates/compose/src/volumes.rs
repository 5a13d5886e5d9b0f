//! Service `volumes:` (short `src:dst[:ro]` and long syntax) and `tmpfs:`.

use std::collections::BTreeSet;

use corral_types::{MountKind, VolumeMount};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::value::{Kind, Node};

/// Named volumes a file may use: `None` for version 1 files, which need no
/// top-level declaration.
pub(crate) type Declared<'a> = Option<&'a BTreeSet<String>>;

pub(crate) fn parse_volumes(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
    declared: Declared<'_>,
) -> Result<Vec<VolumeMount>, ComposeError> {
    let mut out = Vec::new();
    for (i, item) in node.seq(ctx, key)?.iter().enumerate() {
        let k = index(key, i);
        let mount = match &item.kind {
            Kind::Str(s) => short(ctx, item, &k, s)?,
            Kind::Map(_) => long(ctx, item, &k)?,
            _ => {
                return Err(ctx.invalid(
                    item.pos,
                    &k,
                    "expected a volume such as \"data:/var/lib/data\"",
                ));
            }
        };
        if mount.kind == MountKind::Volume
            && !mount.source.is_empty()
            && let Some(declared) = declared
            && !declared.contains(&mount.source)
        {
            let msg = format!(
                "volume {:?} is not declared under the top-level volumes key",
                mount.source
            );
            return Err(ctx.err(ComposeError::ResolveReference, item.pos, &k, msg));
        }
        if mount.kind == MountKind::Bind && !mount.source.starts_with('/') {
            let msg = format!(
                "relative host path {:?} is used as written, on the node",
                mount.source
            );
            ctx.warn(item.pos, &k, msg);
        }
        out.push(mount);
    }
    Ok(out)
}

fn is_path(s: &str) -> bool {
    s.starts_with('/') || s.starts_with('.') || s.starts_with('~')
}

fn absolute_target(ctx: &Ctx, item: &Node, key: &str, target: &str) -> Result<(), ComposeError> {
    if target.starts_with('/') {
        Ok(())
    } else {
        Err(ctx.invalid(
            item.pos,
            key,
            format!("container path {target:?} is not absolute"),
        ))
    }
}

fn short(ctx: &mut Ctx, item: &Node, key: &str, s: &str) -> Result<VolumeMount, ComposeError> {
    let parts: Vec<&str> = s.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [src, t] => (*src, *t, ""),
        [src, t, o] => (*src, *t, *o),
        _ => return Err(ctx.invalid(item.pos, key, format!("{s:?} is not SOURCE:TARGET[:MODE]"))),
    };
    absolute_target(ctx, item, key, target)?;
    let kind = if source.is_empty() || !is_path(source) {
        MountKind::Volume
    } else {
        MountKind::Bind
    };
    let mut read_only = false;
    for o in options.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" | "nocopy" | "cached" | "delegated" | "consistent" | "shared" | "rshared"
            | "slave" | "rslave" | "private" | "rprivate" => {}
            other => {
                return Err(ctx.invalid(item.pos, key, format!("unknown volume option {other:?}")));
            }
        }
    }
    Ok(VolumeMount {
        kind,
        source: source.to_string(),
        target: target.to_string(),
        read_only,
    })
}

fn long(ctx: &mut Ctx, item: &Node, key: &str) -> Result<VolumeMount, ComposeError> {
    let mut m = VolumeMount::default();
    let mut kind = None;
    for e in item.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "type" => {
                kind = Some(match e.value.str(ctx, &k)? {
                    "volume" => MountKind::Volume,
                    "bind" => MountKind::Bind,
                    "tmpfs" => MountKind::Tmpfs,
                    other => {
                        return Err(ctx.unsupported(
                            e.value.pos,
                            &k,
                            format!("volume type {other:?} is not supported"),
                        ));
                    }
                })
            }
            "source" => m.source = e.value.opt_str(ctx, &k)?.unwrap_or_default().to_string(),
            "target" => m.target = e.value.str(ctx, &k)?.to_string(),
            "read_only" => m.read_only = e.value.bool(ctx, &k)?,
            "consistency" | "bind" | "volume" => {}
            "tmpfs" => ctx.ignored(e.pos, &k, "tmpfs options are not supported"),
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    let Some(kind) = kind else {
        return Err(ctx.invalid(item.pos, key, "type is required (volume, bind or tmpfs)"));
    };
    m.kind = kind;
    absolute_target(ctx, item, key, &m.target)?;
    if kind == MountKind::Bind && m.source.is_empty() {
        return Err(ctx.invalid(item.pos, key, "a bind mount needs a source"));
    }
    if kind == MountKind::Tmpfs {
        m.source.clear();
    }
    Ok(m)
}

/// `tmpfs: /run` or `tmpfs: [/run, "/tmp:size=64m"]`.
pub(crate) fn parse_tmpfs(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
) -> Result<Vec<VolumeMount>, ComposeError> {
    let mut out = Vec::new();
    for s in node.strings(ctx, key)? {
        let (target, options) = s.split_once(':').unwrap_or((&s, ""));
        absolute_target(ctx, node, key, target)?;
        if !options.is_empty() {
            ctx.ignored(
                node.pos,
                key,
                &format!("tmpfs options {options:?} are not supported"),
            );
        }
        out.push(VolumeMount {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: target.to_string(),
            read_only: false,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn vols(text: &str, declared: Declared<'_>) -> Result<Vec<VolumeMount>, ComposeError> {
        let mut ctx = Ctx::new(vec!["c.yml".into()]);
        let node = parse(&mut ctx, 0, text).unwrap().unwrap();
        parse_volumes(&mut ctx, &node, "services.db.volumes", declared)
    }

    fn m(kind: MountKind, source: &str, target: &str, read_only: bool) -> VolumeMount {
        VolumeMount {
            kind,
            source: source.into(),
            target: target.into(),
            read_only,
        }
    }

    #[test]
    fn short_and_long_syntax() {
        let declared: BTreeSet<String> = ["data".to_string()].into();
        let text = "- data:/var/lib/db:ro\n- ./conf:/etc/conf\n- /srv:/srv:rw,z\n- /cache\n- type: tmpfs\n  target: /run\n- type: bind\n  source: /a\n  target: /b\n  read_only: true\n";
        assert_eq!(
            vols(text, Some(&declared)).unwrap(),
            [
                m(MountKind::Volume, "data", "/var/lib/db", true),
                m(MountKind::Bind, "./conf", "/etc/conf", false),
                m(MountKind::Bind, "/srv", "/srv", false),
                m(MountKind::Volume, "", "/cache", false),
                m(MountKind::Tmpfs, "", "/run", false),
                m(MountKind::Bind, "/a", "/b", true),
            ]
        );
    }

    #[test]
    fn undeclared_named_volume_is_an_error_naming_it() {
        let err = vols("- logs:/logs\n", Some(&BTreeSet::new())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yml:1: services.db.volumes[0]: volume \"logs\" is not declared under the top-level volumes key"
        );
        assert!(vols("- logs:/logs\n", None).is_ok());
    }

    #[test]
    fn bad_volumes() {
        assert!(vols("- data:relative\n", None).is_err());
        assert!(vols("- a:/b:c:d\n", None).is_err());
        assert!(vols("- type: npipe\n  target: /x\n", None).is_err());
        assert!(vols("- /a:/b:bogus\n", None).is_err());
    }
}
