//! Creating the containers of an instance: its named volumes, the primary,
//! then the sidekicks in the primary's network namespace; and taking
//! containers down.

use std::time::{SystemTime, UNIX_EPOCH};

use corral_engine::{ContainerConfig, ContainerState, EngineError};
use corral_types::{Health, Instance, InstanceState, InstanceStatus, Sidekick, SidekickStatus};

use crate::Shared;
use crate::container_config::{container_config, named_volumes, sidekick_config, volume_labels};

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

/// Creates the instance's volumes and containers; returns its status.
pub async fn launch(shared: &Shared, instance: &Instance) -> Result<InstanceStatus, EngineError> {
    let labels = volume_labels(instance);
    for volume in named_volumes(instance) {
        shared.engine.create_volume(&volume, &labels).await?;
    }
    let config = container_config(instance, &shared.options.name);
    let id = create_and_start(shared, &config).await?;
    let started_ms = epoch_ms();
    let seen = shared.engine.inspect(&id).await?;
    let (state, exit_code) = state_of(seen.state);
    let mut sidekicks = Vec::new();
    for sk in &instance.spec.launch.sidekicks {
        sidekicks.push(launch_sidekick(shared, instance, sk, &id).await);
    }
    let health = match instance.spec.launch.health_check {
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
    })
}

/// Creates and starts one sidekick beside `primary_id`. A failure is logged
/// and reported as the sidekick's state; the next pass tries again.
pub async fn launch_sidekick(
    shared: &Shared,
    instance: &Instance,
    sidekick: &Sidekick,
    primary_id: &str,
) -> SidekickStatus {
    let config = sidekick_config(instance, &shared.options.name, sidekick, primary_id);
    let mut created = create_and_start(shared, &config).await;
    if let Err(EngineError::NameInUse(name)) = &created {
        // A leftover of an earlier primary: its namespace is gone anyway.
        tracing::info!("removing stale sidekick container {name}");
        let _ = shared.engine.remove(name).await;
        created = create_and_start(shared, &config).await;
    }
    let mut status = SidekickStatus {
        name: sidekick.name.clone(),
        ..SidekickStatus::default()
    };
    match created {
        Ok(id) => {
            let state = match shared.engine.inspect(&id).await {
                Ok(seen) => seen.state,
                Err(_) => ContainerState::Other,
            };
            (status.state, status.exit_code) = state_of(state);
            status.container_id = id;
        }
        Err(e) => {
            tracing::warn!(
                "instance {}: sidekick {}: {e}",
                instance.meta.name,
                sidekick.name
            );
            status.state = InstanceState::Failed;
        }
    }
    status
}

/// Stops (with the grace period) and removes a container.
pub async fn stop_and_remove(shared: &Shared, id: &str, grace_s: u32) -> Result<(), EngineError> {
    if let Err(e) = shared.engine.stop(id, grace_s).await {
        tracing::debug!("stopping {id}: {e}");
    }
    shared.engine.remove(id).await
}
