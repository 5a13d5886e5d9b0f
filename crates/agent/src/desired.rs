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
    instances: Mutex<BTreeMap<String, Instance>>,
    synced: AtomicBool,
    /// Instances whose last status report failed: sent again every pass
    /// until the server takes it, even if nothing else changes.
    unreported: Mutex<std::collections::BTreeSet<String>>,
}

impl Desired {
    pub fn snapshot(&self) -> (Vec<Instance>, bool) {
        let list = self
            .instances
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        (list, self.synced.load(Ordering::Acquire))
    }

    fn replace_all(&self, items: Vec<Instance>) {
        if let Ok(mut m) = self.instances.lock() {
            *m = items
                .into_iter()
                .map(|i| (i.meta.name.clone(), i))
                .collect();
        }
        self.synced.store(true, Ordering::Release);
    }

    /// Keeps `inst` unless a newer revision is already known.
    pub fn upsert(&self, inst: Instance) {
        if let Ok(mut m) = self.instances.lock() {
            let newer = m
                .get(&inst.meta.name)
                .is_none_or(|old| old.meta.revision <= inst.meta.revision);
            if newer {
                m.insert(inst.meta.name.clone(), inst);
            }
        }
    }

    /// The revision of `name` as known now (None: not on this node).
    pub fn revision_of(&self, name: &str) -> Option<u64> {
        self.instances
            .lock()
            .ok()
            .and_then(|m| m.get(name).map(|i| i.meta.revision))
    }

    pub fn remove(&self, name: &str, revision: u64) {
        if let Ok(mut m) = self.instances.lock()
            && m.get(name).is_some_and(|old| old.meta.revision <= revision)
        {
            m.remove(name);
        }
    }

    /// Records a status the server did not take (yet): kept locally so the
    /// next pass does not redo the work, and marked to be reported again.
    pub fn set_unreported_status(&self, name: &str, status: InstanceStatus) {
        if let Ok(mut m) = self.instances.lock()
            && let Some(inst) = m.get_mut(name)
        {
            inst.status = status;
        }
        if let Ok(mut u) = self.unreported.lock() {
            u.insert(name.to_string());
        }
    }

    /// The server took the status of `name`.
    pub fn reported(&self, name: &str) {
        if let Ok(mut u) = self.unreported.lock() {
            u.remove(name);
        }
    }

    /// Instances whose status must be sent again, with the status to send.
    pub fn unreported(&self) -> Vec<Instance> {
        let names: Vec<String> = self
            .unreported
            .lock()
            .map(|u| u.iter().cloned().collect())
            .unwrap_or_default();
        let Ok(m) = self.instances.lock() else {
            return Vec::new();
        };
        names.iter().filter_map(|n| m.get(n).cloned()).collect()
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
                                        shared.desired.upsert(ev.object);
                                        shared.wake.notify_one();
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
