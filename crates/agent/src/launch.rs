//! Creating the containers of an instance: its named volumes, the data
//! sidekicks whose volumes the primary mounts, the primary, then the other
//! sidekicks in the primary's network namespace; and taking containers down.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use corral_engine::{ContainerConfig, ContainerState, EngineError};
use corral_types::{Health, Instance, InstanceState, InstanceStatus, Sidekick, SidekickStatus};

use crate::Shared;
use crate::container_config::{
    container_config, data_sidekicks, named_volumes, sidekick_config, volume_labels,
};
use crate::plan::should_restart;

/// Milliseconds since the Unix epoch.
pub fn epoch_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

fn state_of(state: ContainerState) -> (InstanceState, Option<i64>) {
    match state {
        ContainerState::Running => (InstanceState::Running, None),
        ContainerState::Exited(code) => (InstanceState::Exited, Some(code)),
        ContainerState::Created | ContainerState::Other => (InstanceState::Starting, None),
    }
}

/// Creates and starts a container; removes it again if it does not start.
async fn create_and_start(
    shared: &Shared,
    config: &ContainerConfig,
) -> Result<String, EngineError> {
    let id = shared.engine.create(config).await?;
    if let Err(e) = shared.engine.start(&id).await {
        let _ = shared.engine.remove(&id).await;
        return Err(e);
    }
    Ok(id)
}

/// Creates the instance's volumes and containers; returns its status. Data
/// sidekicks come first (the primary mounts their volumes); those in `keep`
/// (name to container id) are reused, so their volumes survive.
pub async fn launch(
    shared: &Shared,
    instance: &Instance,
    keep: &BTreeMap<String, String>,
) -> Result<InstanceStatus, EngineError> {
    let labels = volume_labels(instance);
    for volume in named_volumes(instance) {
        shared.engine.create_volume(&volume, &labels).await?;
    }
    let launch = &instance.spec.launch;
    let mut data = Vec::new();
    for sk in data_sidekicks(launch) {
        let failed = |message: String| EngineError::Api {
            operation: "launching data sidekick",
            message: format!("{}: {message}", sk.name),
        };
        let status = match keep.get(&sk.name) {
            Some(id) => reuse_data_sidekick(shared, instance, sk, id).await,
            None => {
                let id = create_sidekick(shared, instance, sk, "")
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                observe(shared, sk, &id).await
            }
        };
        if status.state == InstanceState::Failed {
            return Err(failed("it could not be started".into()));
        }
        data.push(status);
    }
    let overlay = shared.overlay.borrow().clone();
    let mut config = container_config(instance, &shared.options.name, overlay.as_ref());
    let prepared = crate::mounted_files::prepare(shared, instance).await?;
    config.mounts.extend(prepared.mounts);
    config.env.extend(prepared.env);
    let id = create_and_start(shared, &config).await?;
    let started_ms = epoch_ms();
    let seen = shared.engine.inspect(&id).await?;
    let (state, exit_code) = state_of(seen.state);
    let mut sidekicks = Vec::new();
    for sk in &launch.sidekicks {
        let status = match data.iter().position(|d| d.name == sk.name) {
            Some(i) => data.swap_remove(i),
            None => launch_sidekick(shared, instance, sk, &id).await,
        };
        sidekicks.push(status);
    }
    let health = match launch.health_check {
        Some(_) => Health::Initializing,
        None => Health::None,
    };
    Ok(InstanceStatus {
        state,
        container_id: id,
        reason: String::new(),
        exit_code,
        restarts: 0,
        started_at: seen.started_at,
        health,
        started_ms,
        sidekicks,
        ip: seen.ip,
    })
}

/// A data sidekick kept while the primary is replaced: started if it never
/// ran, or if it exited and is neither start_once nor done per the restart policy.
async fn reuse_data_sidekick(
    shared: &Shared,
    instance: &Instance,
    sidekick: &Sidekick,
    id: &str,
) -> SidekickStatus {
    let policy = instance.spec.launch.restart;
    let start = match shared.engine.inspect(id).await.map(|c| c.state) {
        Ok(ContainerState::Created) => true,
        Ok(ContainerState::Exited(code)) => !sidekick.start_once && should_restart(policy, code),
        Ok(_) => false,
        // Gone in the meantime: create it anew.
        Err(_) => return launch_sidekick(shared, instance, sidekick, "").await,
    };
    if start {
        start_sidekick(shared, instance, sidekick, id).await
    } else {
        observe(shared, sidekick, id).await
    }
}

/// Starts an existing sidekick container again (data sidekicks restart in
/// place, keeping their volumes).
pub async fn start_sidekick(
    shared: &Shared,
    instance: &Instance,
    sidekick: &Sidekick,
    id: &str,
) -> SidekickStatus {
    if let Err(e) = shared.engine.start(id).await {
        tracing::warn!(
            "instance {}: sidekick {}: {e}",
            instance.meta.name,
            sidekick.name
        );
        return SidekickStatus {
            name: sidekick.name.clone(),
            state: InstanceState::Failed,
            container_id: id.to_string(),
            ..SidekickStatus::default()
        };
    }
    observe(shared, sidekick, id).await
}

/// The sidekick's status as the engine has it now.
async fn observe(shared: &Shared, sidekick: &Sidekick, id: &str) -> SidekickStatus {
    let state = match shared.engine.inspect(id).await {
        Ok(seen) => seen.state,
        Err(_) => ContainerState::Other,
    };
    let (state, exit_code) = state_of(state);
    SidekickStatus {
        name: sidekick.name.clone(),
        state,
        container_id: id.to_string(),
        exit_code,
    }
}

/// Creates and starts one sidekick beside `primary_id` (a data sidekick on
/// its own network), replacing a stale container of the same name.
async fn create_sidekick(
    shared: &Shared,
    instance: &Instance,
    sidekick: &Sidekick,
    primary_id: &str,
) -> Result<String, EngineError> {
    let config = sidekick_config(instance, &shared.options.name, sidekick, primary_id);
    let created = create_and_start(shared, &config).await;
    if let Err(EngineError::NameInUse(name)) = &created {
        // A leftover of an earlier primary: its namespace is gone anyway.
        tracing::info!("removing stale sidekick container {name}");
        let _ = shared.engine.remove(name).await;
        return create_and_start(shared, &config).await;
    }
    created
}

/// [`create_sidekick`], with a failure logged and reported as the
/// sidekick's state; the next pass tries again.
pub async fn launch_sidekick(
    shared: &Shared,
    instance: &Instance,
    sidekick: &Sidekick,
    primary_id: &str,
) -> SidekickStatus {
    match create_sidekick(shared, instance, sidekick, primary_id).await {
        Ok(id) => observe(shared, sidekick, &id).await,
        Err(e) => {
            tracing::warn!(
                "instance {}: sidekick {}: {e}",
                instance.meta.name,
                sidekick.name
            );
            SidekickStatus {
                name: sidekick.name.clone(),
                state: InstanceState::Failed,
                ..SidekickStatus::default()
            }
        }
    }
}

/// Stops (with the grace period) and removes a container.
pub async fn stop_and_remove(shared: &Shared, id: &str, grace_s: u32) -> Result<(), EngineError> {
    if let Err(e) = shared.engine.stop(id, grace_s).await {
        tracing::debug!("stopping {id}: {e}");
    }
    shared.engine.remove(id).await
}
