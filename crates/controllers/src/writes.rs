//! The controllers' writes: placing an instance, stamping new objects with
//! the time they are written, and mapping the store's answers.

use corral_store::{Op, StoreError};
use corral_types::{Instance, InstanceState, Object, RawObject};

use crate::ControllerError;
use crate::placement::PlacementChange;

pub(crate) fn apply_placement(inst: &mut Instance, change: PlacementChange) {
    match change {
        PlacementChange::Place { node, .. } => {
            inst.meta.labels.insert(
                corral_types::ContainerLabels::NODE.to_string(),
                node.clone(),
            );
            inst.spec.node = node;
            inst.meta.generation += 1;
            inst.status.reason.clear();
        }
        PlacementChange::Unplaced { reason, .. } => {
            inst.status.reason = reason;
            inst.status.state = InstanceState::Pending;
        }
    }
}

/// Sets the creation time of the objects `ops` create to `now`, the time
/// they are written: a pass of thousands of new instances writes its last
/// batch seconds after it planned them.
pub(crate) fn stamp_created(ops: &mut [Op], now: &str) {
    for op in ops {
        if let Op::Create(obj) = op {
            obj.meta.created = now.to_string();
        }
    }
}

pub(crate) fn to_raw<S, T>(obj: &Object<S, T>) -> Result<RawObject, ControllerError>
where
    S: serde::Serialize + serde::de::DeserializeOwned,
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
{
    obj.to_raw().map_err(|source| ControllerError::Decode {
        kind: obj.kind,
        name: obj.meta.name.clone(),
        source,
    })
}

/// A write that lost a race (someone else wrote first) is retried by the next pass.
pub(crate) fn ignore_races<T>(result: Result<T, StoreError>) -> Result<Option<T>, ControllerError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(
            StoreError::Conflict { .. }
            | StoreError::NotFound { .. }
            | StoreError::AlreadyExists { .. },
        ) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::Kind;

    #[test]
    fn new_objects_are_created_when_their_batch_is_written() {
        let mut planned =
            RawObject::new(Kind::Instance, "default", "web-1", serde_json::Value::Null);
        planned.meta.created = "2026-12-07T10:00:00Z".to_string();
        let mut ops = vec![Op::Create(planned.clone()), Op::Update(planned.clone())];
        stamp_created(&mut ops, "2026-12-07T10:00:03Z");
        let created = |op: &Op| match op {
            Op::Create(o) | Op::Update(o) => o.meta.created.clone(),
            Op::Delete { .. } => String::new(),
        };
        assert_eq!(created(&ops[0]), "2026-12-07T10:00:03Z");
        // An update keeps the object's creation time.
        assert_eq!(created(&ops[1]), "2026-12-07T10:00:00Z");
    }
}
