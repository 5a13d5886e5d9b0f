//! The write rules every backend shares: revision checks and revision numbering.
//!
//! A backend exposes its not-yet-committed state through [`Staging`]; [`stage`]
//! checks each op against it, numbers the resulting events and records them.
//! The backend commits only if [`stage`] returns `Ok`, so a rejected batch
//! changes nothing.

use corral_types::{Kind, RawObject};

use crate::{Event, EventType, Op, Revision, StoreError};

/// The state a batch of writes is checked against and recorded into.
pub(crate) trait Staging {
    /// The object as the batch sees it so far (including the batch's own writes).
    fn current(
        &mut self,
        kind: Kind,
        environment: &str,
        name: &str,
    ) -> Result<Option<RawObject>, StoreError>;

    /// Records one event of the batch; visible to later [`Staging::current`] calls.
    fn record(&mut self, event: &Event) -> Result<(), StoreError>;
}

/// Checks and records `ops` in order, the first getting revision `revision + 1`.
/// Returns the events, one per op, in revision order.
pub(crate) fn stage(
    staging: &mut impl Staging,
    mut revision: Revision,
    ops: Vec<Op>,
) -> Result<Vec<Event>, StoreError> {
    let mut events = Vec::with_capacity(ops.len());
    for op in ops {
        let next = revision
            .checked_add(1)
            .ok_or_else(|| StoreError::Backend("revision counter overflowed".to_string()))?;
        let event = match op {
            Op::Create(mut obj) => {
                if staging
                    .current(obj.kind, &obj.meta.environment, &obj.meta.name)?
                    .is_some()
                {
                    return Err(StoreError::AlreadyExists {
                        kind: obj.kind,
                        environment: obj.meta.environment,
                        name: obj.meta.name,
                    });
                }
                obj.meta.revision = next;
                Event {
                    event_type: EventType::Created,
                    object: obj,
                }
            }
            Op::Update(mut obj) => {
                let stored = staging
                    .current(obj.kind, &obj.meta.environment, &obj.meta.name)?
                    .ok_or_else(|| not_found(obj.kind, &obj.meta.environment, &obj.meta.name))?;
                check_revision(&stored, obj.meta.revision)?;
                obj.meta.revision = next;
                Event {
                    event_type: EventType::Updated,
                    object: obj,
                }
            }
            Op::Delete {
                kind,
                environment,
                name,
                revision: expected,
            } => {
                let mut stored = staging
                    .current(kind, &environment, &name)?
                    .ok_or_else(|| not_found(kind, &environment, &name))?;
                if let Some(expected) = expected {
                    check_revision(&stored, expected)?;
                }
                stored.meta.revision = next;
                Event {
                    event_type: EventType::Deleted,
                    object: stored,
                }
            }
        };
        staging.record(&event)?;
        events.push(event);
        revision = next;
    }
    Ok(events)
}

/// The object of the single event of a one-op batch.
pub(crate) fn not_found(kind: Kind, environment: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind,
        environment: environment.to_string(),
        name: name.to_string(),
    }
}

fn check_revision(stored: &RawObject, expected: Revision) -> Result<(), StoreError> {
    if stored.meta.revision == expected {
        return Ok(());
    }
    Err(StoreError::Conflict {
        kind: stored.kind,
        environment: stored.meta.environment.clone(),
        name: stored.meta.name.clone(),
        expected,
        actual: stored.meta.revision,
    })
}

/// Sorts objects the way `list` returns them: by (environment, name), then kind.
pub(crate) fn sort_for_listing(items: &mut [RawObject]) {
    items.sort_by(|a, b| {
        (&a.meta.environment, &a.meta.name, a.kind).cmp(&(
            &b.meta.environment,
            &b.meta.name,
            b.kind,
        ))
    });
}
