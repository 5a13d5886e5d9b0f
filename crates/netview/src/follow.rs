//! List-then-watch of every kind in one environment, published as snapshots.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};

use corral_api::{Client, WatchEventType};
use corral_types::{Environment, Kind, Object};

use crate::EnvSnapshot;

/// How the view is kept current.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Changes arriving within this time are published as one snapshot.
    pub coalesce: Duration,
    /// Wait before listing again after a watch ended or a call failed.
    pub retry: Duration,
    /// How often the environment object itself is read again.
    pub environment_refresh: Duration,
}

impl Default for FollowOptions {
    fn default() -> Self {
        FollowOptions {
            coalesce: Duration::from_millis(20),
            retry: Duration::from_secs(1),
            environment_refresh: Duration::from_secs(10),
        }
    }
}

struct Shared {
    state: Mutex<EnvSnapshot>,
    changed: Notify,
}

/// Starts following `environment` and returns the receiving end of its
/// snapshots. The tasks stop when `shutdown` becomes true.
pub fn follow_environment(
    client: Client,
    environment: &str,
    options: FollowOptions,
    shutdown: watch::Receiver<bool>,
) -> watch::Receiver<Arc<EnvSnapshot>> {
    let initial = EnvSnapshot {
        environment: environment.to_string(),
        ..EnvSnapshot::default()
    };
    let (tx, rx) = watch::channel(Arc::new(initial.clone()));
    let shared = Arc::new(Shared {
        state: Mutex::new(initial),
        changed: Notify::new(),
    });
    let env = environment.to_string();
    let synced = Arc::new(Mutex::new([false; 4]));
    for (slot, kind) in [Kind::Node, Kind::Stack, Kind::Service, Kind::Instance]
        .into_iter()
        .enumerate()
    {
        let task = KindTask {
            client: client.clone(),
            env: env.clone(),
            kind,
            slot,
            synced: synced.clone(),
            shared: shared.clone(),
            retry: options.retry,
        };
        tokio::spawn(task.run(shutdown.clone()));
    }
    tokio::spawn(refresh_environment(
        client,
        env,
        shared.clone(),
        options.environment_refresh,
        shutdown.clone(),
    ));
    tokio::spawn(publish(shared, tx, options.coalesce, shutdown));
    rx
}

/// Publishes a copy of the state whenever it changed, at most once per `coalesce`.
async fn publish(
    shared: Arc<Shared>,
    tx: watch::Sender<Arc<EnvSnapshot>>,
    coalesce: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shared.changed.notified() => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        tokio::time::sleep(coalesce).await;
        let snapshot = match shared.state.lock() {
            Ok(mut s) => {
                s.revision += 1;
                s.clone()
            }
            Err(_) => return,
        };
        if tx.send(Arc::new(snapshot)).is_err() {
            return;
        }
    }
}

struct KindTask {
    client: Client,
    env: String,
    kind: Kind,
    slot: usize,
    synced: Arc<Mutex<[bool; 4]>>,
    shared: Arc<Shared>,
    retry: Duration,
}

impl KindTask {
    async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let done = match self.kind {
                Kind::Node => self.follow_once(&mut shutdown, |s| &mut s.nodes).await,
                Kind::Stack => self.follow_once(&mut shutdown, |s| &mut s.stacks).await,
                Kind::Service => self.follow_once(&mut shutdown, |s| &mut s.services).await,
                _ => self.follow_once(&mut shutdown, |s| &mut s.instances).await,
            };
            if done {
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.retry) => {}
                _ = shutdown.wait_for(|s| *s) => return,
            }
        }
    }

    /// One list and the watch after it. True when shut down.
    async fn follow_once<S, T>(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        map: fn(&mut EnvSnapshot) -> &mut BTreeMap<String, Object<S, T>>,
    ) -> bool
    where
        Object<S, T>: DeserializeOwned + Send + 'static,
    {
        let list = match self.client.list::<S, T>(&self.env, self.kind, "").await {
            Ok(list) => list,
            Err(e) => {
                tracing::warn!("view of {}: listing {}: {e}", self.env, self.kind);
                return false;
            }
        };
        let revision = list.revision;
        self.update(|s| {
            *map(s) = list
                .items
                .into_iter()
                .map(|o| (o.meta.name.clone(), o))
                .collect();
        });
        self.mark_synced();
        let mut events = match self
            .client
            .watch::<S, T>(&self.env, self.kind, "", revision)
            .await
        {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!("view of {}: watching {}: {e}", self.env, self.kind);
                return false;
            }
        };
        loop {
            let ev = tokio::select! {
                ev = events.next() => ev,
                _ = shutdown.wait_for(|s| *s) => return true,
            };
            match ev {
                Some(Ok(ev)) => match ev.event_type {
                    WatchEventType::Created | WatchEventType::Updated => self.update(|s| {
                        let m = map(s);
                        let newer = m
                            .get(&ev.object.meta.name)
                            .is_none_or(|old| old.meta.revision <= ev.object.meta.revision);
                        if newer {
                            m.insert(ev.object.meta.name.clone(), ev.object);
                        }
                    }),
                    WatchEventType::Deleted => self.update(|s| {
                        let m = map(s);
                        if m.get(&ev.object.meta.name)
                            .is_some_and(|old| old.meta.revision <= ev.object.meta.revision)
                        {
                            m.remove(&ev.object.meta.name);
                        }
                    }),
                    WatchEventType::Bookmark => {}
                    WatchEventType::Expired => return false,
                },
                Some(Err(e)) => {
                    tracing::warn!("view of {}: {} watch: {e}", self.env, self.kind);
                    return false;
                }
                None => return false,
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut EnvSnapshot)) {
        if let Ok(mut s) = self.shared.state.lock() {
            f(&mut s);
        }
        self.shared.changed.notify_one();
    }

    fn mark_synced(&self) {
        let all = match self.synced.lock() {
            Ok(mut flags) => {
                flags[self.slot] = true;
                flags.iter().all(|f| *f)
            }
            Err(_) => false,
        };
        if all {
            self.update(|s| s.synced = true);
        }
    }
}

/// Reads the environment object now and then (its network range and
/// settings change rarely).
async fn refresh_environment(
    client: Client,
    env: String,
    shared: Arc<Shared>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        match client.get::<_, _>("", Kind::Environment, &env).await {
            Ok(obj) => {
                let obj: Environment = obj;
                let changed = match shared.state.lock() {
                    Ok(mut s) => {
                        let changed = s.environment_object.as_ref() != Some(&obj);
                        s.environment_object = Some(obj);
                        changed
                    }
                    Err(_) => return,
                };
                if changed {
                    shared.changed.notify_one();
                }
            }
            Err(e) => tracing::debug!("view of {env}: reading the environment: {e}"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}
