//! The first start's admin user: `admin`, with a generated password that
//! is printed once and written to `<data dir>/admin-password` (mode 0600).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;

use corral_controllers::Clock;
use corral_store::{Query, Store, StoreError};
use corral_types::{GLOBAL, Kind, Object, Provider, User, UserSpec};

use crate::access::secrets::{hash_password, random_hex};

/// The name of the first admin.
pub const FIRST_ADMIN: &str = "admin";

/// Creates the `admin` user when the server has no user at all; answers
/// its password then.
pub fn first_admin(
    store: &dyn Store,
    clock: &dyn Clock,
    data_dir: &Path,
) -> anyhow::Result<Option<String>> {
    let users = store.list(&Query::kind(Kind::User).in_environment(GLOBAL))?;
    if !users.items.is_empty() {
        return Ok(None);
    }
    let password = random_hex(12);
    let hash = hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut user: User = Object::new(
        Kind::User,
        GLOBAL,
        FIRST_ADMIN,
        UserSpec {
            display_name: "Administrator".into(),
            admin: true,
            provider: Provider::Local,
            password_hash: hash,
            disabled: false,
        },
    );
    user.meta.uid = corral_controllers::new_uid();
    user.meta.created = clock.now_rfc3339();
    user.meta.generation = 1;
    let path = data_dir.join("admin-password");
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(format!("{password}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    match store.create(user.to_raw()?) {
        Ok(_) => Ok(Some(password)),
        // Another server made it first: its password is the one.
        Err(StoreError::AlreadyExists { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}
