//! A stack's secrets at deploy: the compose file's own secrets are stored
//! (version 1, or a new version when the value sent differs from the
//! stored one), external ones must exist, and every service's mounts are
//! pinned to the version they will run with, so a changed value rolls the
//! services that mount it with the deploy.

use std::collections::BTreeMap;

use corral_compose::{Loaded, SecretSource, StackSecret};

use crate::admission::Admission;
use crate::error::ApiError;
use crate::secrets;
use crate::state::AppState;

/// The label that marks a secret as a stack's own.
pub const STACK_LABEL: &str = "io.corral.stack";

/// A value to store at deploy.
struct Write {
    name: String,
    value: Vec<u8>,
}

/// What a deploy does with the stack's secrets.
#[derive(Default)]
pub struct SecretPlan {
    /// One line per secret, for the plan (`create secret shop_db-password`).
    pub lines: Vec<String>,
    /// The version each stored name will have.
    versions: BTreeMap<String, u64>,
    writes: Vec<Write>,
    stack: String,
}

fn missing_value(s: &StackSecret) -> String {
    match &s.source {
        SecretSource::File(f) => format!(
            "no value was sent for secret {:?}: `corral stack deploy` reads {f} relative to the compose file",
            s.name
        ),
        SecretSource::Environment(v) => format!(
            "no value was sent for secret {:?}: `corral stack deploy` reads it from the variable {v}",
            s.name
        ),
        SecretSource::External => format!("secret {:?} is external", s.name),
    }
}

/// Plans the secrets of `loaded` given the values `sent` (by compose key).
/// A dry run tolerates a missing value or external secret (the plan says
/// so); a deploy refuses them, naming the key.
pub async fn plan(
    state: &AppState,
    env: &str,
    stack: &str,
    loaded: &Loaded,
    sent: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<SecretPlan, ApiError> {
    let mut out = SecretPlan {
        stack: stack.to_string(),
        ..SecretPlan::default()
    };
    for key in sent.keys() {
        match loaded.secrets.get(key) {
            Some(s) if s.source != SecretSource::External => {}
            _ => {
                return Err(ApiError::invalid(
                    format!("secrets.{key}"),
                    "a value was sent for a secret the compose file does not declare with file: or environment:",
                ));
            }
        }
    }
    for (key, s) in &loaded.secrets {
        let field = format!("secrets.{key}");
        let stored = secrets::find(state, env, &s.name).await?;
        let foreign = stored
            .as_ref()
            .is_some_and(|x| x.meta.labels.get(STACK_LABEL).map(String::as_str) != Some(stack));
        if foreign && s.source != SecretSource::External {
            // A deploy changes only the stack's own secrets: whoever may
            // deploy a stack may not replace a secret made by someone else.
            return Err(ApiError::invalid(
                field,
                format!(
                    "secret {:?} exists and is not stack {stack:?}'s own; declare it `external: true` to use it",
                    s.name
                ),
            ));
        }
        let stored_version = stored.as_ref().map(|x| x.status.version);
        let line = match (&s.source, sent.get(key), stored) {
            (SecretSource::External, _, Some(x)) => {
                out.versions.insert(s.name.clone(), x.status.version);
                format!(
                    "use external secret {} (version {})",
                    s.name, x.status.version
                )
            }
            (SecretSource::External, _, None) => {
                let msg = format!(
                    "external secret {:?} not found in environment {env:?} (corral secret create {})",
                    s.name, s.name
                );
                if !dry_run {
                    return Err(ApiError::invalid(field, msg));
                }
                msg
            }
            (_, Some(value), stored) => {
                let value = secrets::decode_value(&format!("secrets.{key}"), value)?;
                let digest = state.sealer.digest(&value);
                match stored {
                    Some(x) if x.status.digest == digest => {
                        out.versions.insert(s.name.clone(), x.status.version);
                        format!("secret {} unchanged (version {})", s.name, x.status.version)
                    }
                    _ => {
                        let version = stored_version.unwrap_or(0) + 1;
                        out.versions.insert(s.name.clone(), version);
                        out.writes.push(Write {
                            name: s.name.clone(),
                            value,
                        });
                        if version == 1 {
                            format!("create secret {}", s.name)
                        } else {
                            format!("new version {version} of secret {}", s.name)
                        }
                    }
                }
            }
            (_, None, Some(x)) => {
                out.versions.insert(s.name.clone(), x.status.version);
                format!(
                    "secret {} kept at version {} (no value sent)",
                    s.name, x.status.version
                )
            }
            (_, None, None) => {
                let msg = missing_value(s);
                if !dry_run {
                    return Err(ApiError::invalid(field, msg));
                }
                msg
            }
        };
        out.lines.push(line);
    }
    Ok(out)
}

impl SecretPlan {
    /// Sets every mount of the services to the version it will run with.
    pub fn pin(&self, services: &mut BTreeMap<String, corral_types::ServiceSpec>) {
        for spec in services.values_mut() {
            for m in &mut spec.secrets {
                if let Some(v) = self.versions.get(&m.source) {
                    m.version = *v;
                }
            }
        }
    }

    /// Stores the values the plan creates or changes.
    pub async fn apply(
        self,
        state: &AppState,
        admission: &Admission,
        env: &str,
    ) -> Result<(), ApiError> {
        let labels = BTreeMap::from([(STACK_LABEL.to_string(), self.stack.clone())]);
        for w in self.writes {
            secrets::store_value(state, admission, env, &w.name, &w.value, &labels).await?;
        }
        Ok(())
    }
}
