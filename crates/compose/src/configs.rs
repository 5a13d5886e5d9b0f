//! A service's `configs:` (see `files.rs` for what secrets and configs
//! share). A mount's target defaults to `/<key>` (Swarm's default), so
//! the container reads `/nginx.conf` whatever the stored name; a target
//! must be an absolute path.

use std::collections::BTreeMap;

use corral_types::ConfigMount;

use crate::ctx::Ctx;
use crate::error::ComposeError;
use crate::files::{Section, StackFile};
use crate::value::Node;

pub(crate) fn mounts(
    ctx: &Ctx,
    v: &Node,
    key: &str,
    declared: &BTreeMap<String, StackFile>,
) -> Result<Vec<ConfigMount>, ComposeError> {
    let mut out = Vec::new();
    for f in crate::files::mounts(ctx, v, key, declared, Section::Configs)? {
        let m = ConfigMount {
            target: if f.target.is_empty() {
                format!("/{}", f.key)
            } else {
                f.target
            },
            source: f.source,
            uid: f.uid,
            gid: f.gid,
            mode: f.mode,
            version: 0,
        };
        m.validate(&f.at).map_err(|e| {
            // The message names the mount's field (`...configs[0].target`).
            let field = e.field.clone();
            ctx.invalid(f.pos, &field, e.message)
        })?;
        out.push(m);
    }
    Ok(out)
}
