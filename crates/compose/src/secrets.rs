//! A service's `secrets:` (see `files.rs` for what secrets and configs
//! share). A mount's target defaults to the key, so the container reads
//! `/run/secrets/db-password` whatever the stored name.

use std::collections::BTreeMap;

use corral_types::SecretMount;

use crate::ctx::Ctx;
use crate::error::ComposeError;
use crate::files::{Section, StackFile};
use crate::value::Node;

pub(crate) fn mounts(
    ctx: &Ctx,
    v: &Node,
    key: &str,
    declared: &BTreeMap<String, StackFile>,
) -> Result<Vec<SecretMount>, ComposeError> {
    let fields = crate::files::mounts(ctx, v, key, declared, Section::Secrets)?;
    Ok(fields
        .into_iter()
        .map(|f| SecretMount {
            target: if f.target.is_empty() && f.env.is_empty() {
                f.key
            } else {
                f.target
            },
            source: f.source,
            uid: f.uid,
            gid: f.gid,
            mode: f.mode,
            env: f.env,
            version: 0,
        })
        .collect())
}
