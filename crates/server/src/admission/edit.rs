//! The one read-modify-write loop: read an object, let a closure change
//! it, write it with the revision read, and start over when another
//! writer got there first (a 409 from the store), a bounded number of
//! times.

use serde::Serialize;
use serde::de::DeserializeOwned;

use corral_types::{Kind, Object, RawObject};

use corral_store::StoreError;

use super::Admission;
use crate::error::ApiError;
use crate::objects::get_object;

/// Attempts before a write that keeps losing races gives up with a 409.
pub const ATTEMPTS: usize = 10;

/// What a change decided.
pub enum Edit {
    /// Write the changed object.
    Write,
    /// Nothing to write: answer the object as read.
    Keep,
}

impl Admission {
    /// Reads `kind` `name` of `env` as `Object<S, T>`, applies `change`, and
    /// writes it (bumping `meta.generation` when the spec changed). Answers
    /// the stored object.
    pub async fn edit<S, T>(
        &self,
        kind: Kind,
        env: &str,
        name: &str,
        mut change: impl FnMut(&mut Object<S, T>) -> Result<Edit, ApiError>,
    ) -> Result<RawObject, ApiError>
    where
        S: Serialize + DeserializeOwned,
        T: Serialize + DeserializeOwned + Default,
    {
        for _ in 0..ATTEMPTS {
            let raw = get_object(&self.state, kind, env, name).await?;
            let mut obj: Object<S, T> = Object::from_raw(raw.clone()).map_err(|e| {
                ApiError::Internal(format!(
                    "stored {} {name:?} does not decode: {e}",
                    kind.as_str().to_lowercase()
                ))
            })?;
            let spec_before = serde_json::to_value(&obj.spec).ok();
            match change(&mut obj)? {
                Edit::Keep => return Ok(raw),
                Edit::Write => {}
            }
            if serde_json::to_value(&obj.spec).ok() != spec_before {
                obj.meta.generation = raw.meta.generation + 1;
            }
            let encoded = obj
                .to_raw()
                .map_err(|e| ApiError::Internal(format!("encode {name:?}: {e}")))?;
            // A refusal is the outer error; a lost race the inner one.
            match self.store(move |s| Ok(s.update(encoded))).await? {
                Err(StoreError::Conflict { .. }) => continue,
                other => return Ok(other?),
            }
        }
        Err(ApiError::Conflict(format!(
            "{} {name:?} keeps changing; try again",
            kind.as_str().to_lowercase()
        )))
    }
}
