//! A stack's secrets and configs at deploy: the compose file's own are
//! stored (version 1, or a new version when the value sent differs from
//! the stored one), external ones must exist, and every service's mounts
//! are pinned to the version they will run with, so a changed value rolls
//! the services that mount it with the deploy.

use std::collections::BTreeMap;

use corral_compose::{FileSource, StackFile};
use corral_types::{Kind, ServiceSpec};

use crate::admission::Admission;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{configs, secrets};

/// The label that marks a secret or config as a stack's own.
pub const STACK_LABEL: &str = "io.corral.stack";

/// Secrets or configs: what differs between the two here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Secret,
    Config,
}

/// What is stored of one: its labels, version and digest.
struct Stored {
    labels: BTreeMap<String, String>,
    version: u64,
    digest: String,
}

impl FileKind {
    fn noun(self) -> &'static str {
        match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        }
    }

    /// The top-level section of the compose file.
    fn section(self) -> &'static str {
        match self {
            FileKind::Secret => "secrets",
            FileKind::Config => "configs",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            FileKind::Secret => Kind::Secret,
            FileKind::Config => Kind::Config,
        }
    }

    fn digest(self, state: &AppState, value: &[u8]) -> String {
        match self {
            FileKind::Secret => state.sealer.digest(value),
            FileKind::Config => configs::digest(value),
        }
    }

    async fn find(
        self,
        state: &AppState,
        env: &str,
        name: &str,
    ) -> Result<Option<Stored>, ApiError> {
        Ok(match self {
            FileKind::Secret => secrets::find(state, env, name).await?.map(|x| Stored {
                labels: x.meta.labels,
                version: x.status.version,
                digest: x.status.digest,
            }),
            FileKind::Config => configs::find(state, env, name).await?.map(|x| Stored {
                labels: x.meta.labels,
                version: x.status.version,
                digest: x.status.digest,
            }),
        })
    }

    async fn store(
        self,
        state: &AppState,
        admission: &Admission,
        env: &str,
        w: &Write,
        labels: &BTreeMap<String, String>,
    ) -> Result<u64, ApiError> {
        match self {
            FileKind::Secret => {
                secrets::store_value(state, admission, env, &w.name, &w.value, labels).await
            }
            FileKind::Config => {
                configs::store_value(state, admission, env, &w.name, &w.value, labels).await
            }
        }
    }
}

/// A value to store at deploy.
struct Write {
    name: String,
    value: Vec<u8>,
}

/// What a deploy does with the stack's secrets or configs.
pub struct FilePlan {
    kind: FileKind,
    /// One line per secret or config, for the plan (`create secret
    /// shop_db-password`).
    pub lines: Vec<String>,
    /// The version each stored name will have.
    versions: BTreeMap<String, u64>,
    writes: Vec<Write>,
    stack: String,
}

fn missing_value(kind: FileKind, s: &StackFile) -> String {
    let noun = kind.noun();
    match &s.source {
        FileSource::File(f) => format!(
            "no value was sent for {noun} {:?}: `corral stack deploy` reads {f} relative to the compose file",
            s.name
        ),
        FileSource::Environment(v) => format!(
            "no value was sent for {noun} {:?}: `corral stack deploy` reads it from the variable {v}",
            s.name
        ),
        FileSource::Content(_) | FileSource::External => {
            format!("{noun} {:?} has no value to send", s.name)
        }
    }
}

/// Plans the secrets or configs `declared` by the compose file given the
/// values `sent` (by compose key). A dry run tolerates a missing value or
/// external one (the plan says so); a deploy refuses them, naming the key.
pub async fn plan(
    state: &AppState,
    env: &str,
    stack: &str,
    kind: FileKind,
    declared: &BTreeMap<String, StackFile>,
    sent: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<FilePlan, ApiError> {
    let (noun, section) = (kind.noun(), kind.section());
    let mut out = FilePlan {
        kind,
        lines: Vec::new(),
        versions: BTreeMap::new(),
        writes: Vec::new(),
        stack: stack.to_string(),
    };
    for key in sent.keys() {
        match declared.get(key).map(|s| &s.source) {
            Some(FileSource::File(_) | FileSource::Environment(_)) => {}
            _ => {
                return Err(ApiError::invalid(
                    format!("{section}.{key}"),
                    format!(
                        "a value was sent for a {noun} the compose file does not declare with file: or environment:"
                    ),
                ));
            }
        }
    }
    for (key, s) in declared {
        let field = format!("{section}.{key}");
        let stored = kind.find(state, env, &s.name).await?;
        let foreign = stored
            .as_ref()
            .is_some_and(|x| x.labels.get(STACK_LABEL).map(String::as_str) != Some(stack));
        if foreign && s.source != FileSource::External {
            // A deploy changes only the stack's own: whoever may deploy a
            // stack may not replace a secret or config made by someone else.
            return Err(ApiError::invalid(
                field,
                format!(
                    "{noun} {:?} exists and is not stack {stack:?}'s own; declare it `external: true` to use it",
                    s.name
                ),
            ));
        }
        let value = match (&s.source, sent.get(key)) {
            (FileSource::Content(text), _) => Some(text.as_bytes().to_vec()),
            (FileSource::External, _) | (_, None) => None,
            (_, Some(v)) => Some(crate::mounted::decode_value(&field, v)?),
        };
        let line = match (&s.source, value, stored) {
            (FileSource::External, _, Some(x)) => {
                out.versions.insert(s.name.clone(), x.version);
                format!("use external {noun} {} (version {})", s.name, x.version)
            }
            (FileSource::External, _, None) => {
                let msg = format!(
                    "external {noun} {:?} not found in environment {env:?} (corral {noun} create {})",
                    s.name, s.name
                );
                if !dry_run {
                    return Err(ApiError::invalid(field, msg));
                }
                msg
            }
            (_, Some(value), stored) => {
                let digest = kind.digest(state, &value);
                match stored {
                    Some(x) if x.digest == digest => {
                        out.versions.insert(s.name.clone(), x.version);
                        format!("{noun} {} unchanged (version {})", s.name, x.version)
                    }
                    stored => {
                        let version = stored.map_or(0, |x| x.version) + 1;
                        out.versions.insert(s.name.clone(), version);
                        out.writes.push(Write {
                            name: s.name.clone(),
                            value,
                        });
                        if version == 1 {
                            format!("create {noun} {}", s.name)
                        } else {
                            format!("new version {version} of {noun} {}", s.name)
                        }
                    }
                }
            }
            (_, None, Some(x)) => {
                out.versions.insert(s.name.clone(), x.version);
                format!(
                    "{noun} {} kept at version {} (no value sent)",
                    s.name, x.version
                )
            }
            (_, None, None) => {
                let msg = missing_value(kind, s);
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

impl FilePlan {
    /// Sets every mount of the services to the version it will run with.
    pub fn pin(&self, services: &mut BTreeMap<String, ServiceSpec>) {
        let version = |source: &str| self.versions.get(source).copied();
        for spec in services.values_mut() {
            match self.kind {
                FileKind::Secret => {
                    for m in &mut spec.secrets {
                        m.version = version(&m.source).unwrap_or(m.version);
                    }
                }
                FileKind::Config => {
                    for m in &mut spec.configs {
                        m.version = version(&m.source).unwrap_or(m.version);
                    }
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
        for w in &self.writes {
            self.kind.store(state, admission, env, w, &labels).await?;
        }
        Ok(())
    }
}
