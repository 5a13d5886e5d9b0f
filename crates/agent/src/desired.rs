//! The instances placed on this node, kept current by list-then-watch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;

use corral_api::WatchEventType;
use corral_types::{ContainerLabels, Instance, InstanceSpec, InstanceStatus, Kind};

use crate::Shared;

/// This node's instances by name, and whether they were listed at least once.
#[derive(Default)]
pub struct Desired {
    copies: Mutex<Copies>,
    synced: AtomicBool,
    /// Instances whose last status report failed: sent again every pass
    /// until the server takes it, even if nothing else changes.
    unreported: Mutex<std::collections::BTreeSet<String>>,
}

#[derive(Default)]
struct Copies {
    /// Shared with the snapshots of the passes: a change replaces the
    /// instance (or copies it first, if a snapshot still holds it), so a
    /// snapshot never sees a change made after it was taken.
    instances: BTreeMap<String, Arc<Instance>>,
    /// Statuses queued for the server and not yet taken, by instance name
    /// (with the uid of the instance they are about): they stay in the local
    /// copy whatever the server's copy says meanwhile (a watch event, a
    /// relist, the answer to an earlier report), so the plan never works
    /// from an older status than the one on its way.
    pending: BTreeMap<String, (String, InstanceStatus)>,
}

impl Copies {
    /// Keeps `inst` unless a newer revision is already known. True when the
    /// plan can see the difference: a new instance, or another uid, labels,
    /// spec or status than the local copy (with its pending status). The
    /// echo of a status this node reported is a new revision of the same
    /// instance and changes nothing a pass would plan from.
    fn upsert(&mut self, mut inst: Instance) -> bool {
        let older = |old: &Arc<Instance>| old.meta.revision > inst.meta.revision;
        if self.instances.get(&inst.meta.name).is_some_and(older) {
            return false;
        }
        self.overlay(&mut inst);
        let changed = self.instances.get(&inst.meta.name).is_none_or(|old| {
            old.meta.uid != inst.meta.uid
                || old.meta.labels != inst.meta.labels
                || old.status != inst.status
                || old.spec != inst.spec
        });
        self.instances
            .insert(inst.meta.name.clone(), Arc::new(inst));
        changed
    }

    /// Puts the pending status of `inst` (if any) on it; forgets a pending
    /// status about another instance of the same name.
    fn overlay(&mut self, inst: &mut Instance) {
        match self.pending.get(&inst.meta.name) {
            Some((uid, status)) if *uid == inst.meta.uid => inst.status = status.clone(),
            Some(_) => {
                self.pending.remove(&inst.meta.name);
            }
            None => {}
        }
    }
}

impl Desired {
    /// The local copies (shared, not copied) and whether they were listed.
    pub fn snapshot(&self) -> (Vec<Arc<Instance>>, bool) {
        let list = self
            .copies
            .lock()
            .map(|c| c.instances.values().cloned().collect())
            .unwrap_or_default();
        (list, self.synced.load(Ordering::Acquire))
    }

    fn replace_all(&self, items: Vec<Instance>) {
        if let Ok(mut c) = self.copies.lock() {
            let mut instances = BTreeMap::new();
            for mut inst in items {
                c.overlay(&mut inst);
                instances.insert(inst.meta.name.clone(), Arc::new(inst));
            }
            c.pending.retain(|name, _| instances.contains_key(name));
            c.instances = instances;
        }
        self.synced.store(true, Ordering::Release);
    }

    /// Keeps `inst` unless a newer revision is already known; true when a
    /// pass would plan differently from it (see [`Copies::upsert`]).
    pub fn upsert(&self, inst: Instance) -> bool {
        self.copies.lock().is_ok_and(|mut c| c.upsert(inst))
    }

    /// True when the local copy of `planned`'s instance changed since a pass
    /// planned a step on `planned`: the server wrote it again (a newer
    /// revision), or a status was queued for it (same revision, another
    /// status).
    pub fn changed_since(&self, planned: &Instance) -> bool {
        self.copies.lock().ok().is_some_and(|c| {
            c.instances.get(&planned.meta.name).is_some_and(|now| {
                now.meta.revision > planned.meta.revision
                    || (now.meta.revision == planned.meta.revision && now.status != planned.status)
            })
        })
    }

    pub fn remove(&self, name: &str, revision: u64) {
        if let Ok(mut c) = self.copies.lock()
            && c.instances
                .get(name)
                .is_some_and(|old| old.meta.revision <= revision)
        {
            c.instances.remove(name);
            c.pending.remove(name);
        }
    }

    /// Records a status queued for the server: the local copy holds it from
    /// now on (see [`Copies::pending`]) until the server takes it.
    pub fn set_pending_status(&self, name: &str, uid: &str, status: InstanceStatus) {
        if let Ok(mut c) = self.copies.lock()
            && let Some(inst) = c.instances.get_mut(name)
            && inst.meta.uid == uid
        {
            Arc::make_mut(inst).status = status.clone();
            c.pending
                .insert(name.to_string(), (uid.to_string(), status));
        }
    }

    /// The server took `sent` and answered with its copy `updated`: that
    /// copy replaces the local one, unless a newer status is pending.
    pub fn taken(&self, updated: Instance, sent: &InstanceStatus) {
        let name = updated.meta.name.clone();
        if let Ok(mut c) = self.copies.lock() {
            if c.pending
                .get(&name)
                .is_some_and(|(uid, status)| *uid == updated.meta.uid && status == sent)
            {
                c.pending.remove(&name);
            }
            // The answer to this node's own report: the pass that queued it
            // already planned from that status.
            c.upsert(updated);
        }
        self.reported(&name);
    }

    /// The server has no such instance on this node (any more): nothing to
    /// report on, `sent` is dropped.
    pub fn gone(&self, name: &str, sent: &InstanceStatus) {
        if let Ok(mut c) = self.copies.lock()
            && c.pending
                .get(name)
                .is_some_and(|(_, status)| status == sent)
        {
            c.pending.remove(name);
        }
        self.reported(name);
    }

    /// The server did not take the status of `name` (yet): the local copy
    /// keeps it (it is still pending), and it is sent again next pass.
    pub fn not_taken(&self, name: &str) {
        if let Ok(mut u) = self.unreported.lock() {
            u.insert(name.to_string());
        }
    }

    /// The server took the status of `name`.
    fn reported(&self, name: &str) {
        if let Ok(mut u) = self.unreported.lock() {
            u.remove(name);
        }
    }

    /// Instances whose status must be sent again, with the status to send.
    pub fn unreported(&self) -> Vec<Arc<Instance>> {
        let names: Vec<String> = self
            .unreported
            .lock()
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default();
        let Ok(c) = self.copies.lock() else {
            return Vec::new();
        };
        names
            .iter()
            .filter_map(|n| c.instances.get(n).cloned())
            .collect()
    }
}

/// Lists this node's instances, then watches them; relists when the watch ends.
pub async fn follow(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let opts = &shared.options;
    let selector = format!("{}={}", ContainerLabels::NODE, opts.name);
    loop {
        let listed = shared
            .client
            .list::<InstanceSpec, InstanceStatus>(&opts.environment, Kind::Instance, &selector)
            .await;
        match listed {
            Ok(list) => {
                shared.desired.replace_all(list.items);
                shared.wake.notify_one();
                let stream = shared
                    .client
                    .watch::<InstanceSpec, InstanceStatus>(
                        &opts.environment,
                        Kind::Instance,
                        &selector,
                        list.revision,
                    )
                    .await;
                match stream {
                    Ok(mut events) => loop {
                        tokio::select! {
                            ev = events.next() => match ev {
                                Some(Ok(ev)) => match ev.event_type {
                                    WatchEventType::Created | WatchEventType::Updated => {
                                        // The echo of this node's own report
                                        // wakes nobody.
                                        if shared.desired.upsert(ev.object) {
                                            shared.wake.notify_one();
                                        }
                                    }
                                    WatchEventType::Deleted => {
                                        shared.desired.remove(&ev.object.meta.name, ev.object.meta.revision);
                                        shared.wake.notify_one();
                                    }
                                    WatchEventType::Bookmark => {}
                                    WatchEventType::Expired => break,
                                },
                                Some(Err(e)) => {
                                    tracing::warn!("instance watch: {e}");
                                    break;
                                }
                                None => break,
                            },
                            _ = shutdown.wait_for(|s| *s) => return,
                        }
                    },
                    Err(e) => tracing::warn!("watching instances: {e}"),
                }
            }
            Err(e) => tracing::warn!("listing instances: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use corral_types::{InstanceState, Object};

    use super::*;

    fn instance(name: &str, uid: &str, revision: u64, state: InstanceState) -> Instance {
        let mut inst: Instance = Object::new(Kind::Instance, "default", name, Default::default());
        inst.meta.uid = uid.into();
        inst.meta.revision = revision;
        inst.status.state = state;
        inst
    }

    fn status(state: InstanceState) -> InstanceStatus {
        InstanceStatus {
            state,
            ..InstanceStatus::default()
        }
    }

    fn state_of(d: &Desired, name: &str) -> (u64, InstanceState) {
        let (list, _) = d.snapshot();
        let inst = list.iter().find(|i| i.meta.name == name).unwrap();
        (inst.meta.revision, inst.status.state)
    }

    #[test]
    fn a_queued_status_stays_in_the_local_copy_over_older_server_copies() {
        let d = Desired::default();
        d.replace_all(vec![instance("web-1", "u1", 5, InstanceState::Pending)]);
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        assert_eq!(state_of(&d, "web-1"), (5, InstanceState::Running));
        // The server writes the spec meanwhile: a newer revision, its old status.
        d.upsert(instance("web-1", "u1", 6, InstanceState::Pending));
        assert_eq!(state_of(&d, "web-1"), (6, InstanceState::Running));
        // A relist too.
        d.replace_all(vec![instance("web-1", "u1", 6, InstanceState::Pending)]);
        assert_eq!(state_of(&d, "web-1"), (6, InstanceState::Running));
        // Once the server took it, its copy is the truth again.
        d.taken(
            instance("web-1", "u1", 7, InstanceState::Running),
            &status(InstanceState::Running),
        );
        d.upsert(instance("web-1", "u1", 8, InstanceState::Stopping));
        assert_eq!(state_of(&d, "web-1"), (8, InstanceState::Stopping));
    }

    #[test]
    fn the_answer_to_an_older_report_does_not_replace_a_newer_queued_status() {
        let d = Desired::default();
        d.replace_all(vec![instance("web-1", "u1", 5, InstanceState::Pending)]);
        d.set_pending_status("web-1", "u1", status(InstanceState::Starting));
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        // The server answers the report of `starting` (sent before `running` was queued).
        d.taken(
            instance("web-1", "u1", 6, InstanceState::Starting),
            &status(InstanceState::Starting),
        );
        assert_eq!(state_of(&d, "web-1"), (6, InstanceState::Running));
    }

    #[test]
    fn a_queued_status_never_lands_on_a_new_instance_of_the_same_name() {
        let d = Desired::default();
        d.replace_all(vec![instance("web-1", "old", 5, InstanceState::Pending)]);
        d.set_pending_status("web-1", "old", status(InstanceState::Failed));
        d.upsert(instance("web-1", "new", 9, InstanceState::Pending));
        assert_eq!(state_of(&d, "web-1"), (9, InstanceState::Pending));
        // A status about an instance no longer known is not kept either.
        d.set_pending_status("web-1", "old", status(InstanceState::Failed));
        assert_eq!(state_of(&d, "web-1"), (9, InstanceState::Pending));
    }

    #[test]
    fn a_snapshot_never_sees_changes_made_after_it_was_taken() {
        let d = Desired::default();
        d.replace_all(vec![instance("web-1", "u1", 5, InstanceState::Pending)]);
        let (before, _) = d.snapshot();
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        assert_eq!(before[0].status.state, InstanceState::Pending);
        let (after, _) = d.snapshot();
        assert_eq!(after[0].status.state, InstanceState::Running);
        d.upsert(instance("web-1", "u1", 6, InstanceState::Stopping));
        assert_eq!(
            (after[0].meta.revision, after[0].status.state),
            (5, InstanceState::Running)
        );
        assert_eq!(state_of(&d, "web-1"), (6, InstanceState::Running));
        d.remove("web-1", 6);
        assert_eq!(after.len(), 1);
        assert!(d.snapshot().0.is_empty());
    }

    #[test]
    fn a_step_planned_before_a_status_was_queued_is_on_a_stale_copy() {
        let d = Desired::default();
        let planned = instance("web-1", "u1", 5, InstanceState::Pending);
        d.replace_all(vec![planned.clone()]);
        assert!(!d.changed_since(&planned));
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        assert!(
            d.changed_since(&planned),
            "a queued status makes the copy newer"
        );
        let (now, _) = d.snapshot();
        assert!(!d.changed_since(&now[0]));
        d.upsert(instance("web-1", "u1", 6, InstanceState::Running));
        assert!(d.changed_since(&now[0]), "so does a newer revision");
    }

    #[test]
    fn a_report_not_taken_is_sent_again_with_the_latest_status() {
        let d = Desired::default();
        d.replace_all(vec![instance("web-1", "u1", 5, InstanceState::Pending)]);
        d.set_pending_status("web-1", "u1", status(InstanceState::Starting));
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        d.not_taken("web-1");
        let again = d.unreported();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].status.state, InstanceState::Running);
        // Gone: nothing to send any more.
        d.gone("web-1", &status(InstanceState::Running));
        assert!(d.unreported().is_empty());
    }

    #[test]
    fn only_a_change_the_plan_can_see_asks_for_a_pass() {
        let d = Desired::default();
        assert!(
            d.upsert(instance("web-1", "u1", 5, InstanceState::Pending)),
            "new"
        );
        d.set_pending_status("web-1", "u1", status(InstanceState::Running));
        // The echo of this node's own report: a newer revision, same status.
        assert!(!d.upsert(instance("web-1", "u1", 6, InstanceState::Running)));
        assert!(
            !d.upsert(instance("web-1", "u1", 4, InstanceState::Failed)),
            "older"
        );
        assert_eq!(state_of(&d, "web-1"), (6, InstanceState::Running));
        d.taken(
            instance("web-1", "u1", 6, InstanceState::Running),
            &status(InstanceState::Running),
        );
        // Someone else changed the status, the spec or the instance itself.
        assert!(d.upsert(instance("web-1", "u1", 7, InstanceState::Stopping)));
        let mut removing = instance("web-1", "u1", 8, InstanceState::Stopping);
        removing.spec.removing = true;
        assert!(d.upsert(removing));
        assert!(d.upsert(instance("web-1", "u2", 9, InstanceState::Stopping)));
    }
}
