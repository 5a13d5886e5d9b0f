//! Joining the server and staying joined.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use corral_api::JoinRequest;
use corral_engine::EngineInfo;
use corral_types::NodeStatus;

use crate::Shared;

fn join_request(shared: &Shared, info: &EngineInfo, address: &str, agent_url: &str) -> JoinRequest {
    JoinRequest {
        labels: shared.options.labels.clone(),
        status: NodeStatus {
            address: address.to_string(),
            hostname: info.hostname.clone(),
            cpu_millis: info.cpu_millis,
            memory_bytes: info.memory_bytes,
            engine_version: info.version.clone(),
            agent_url: agent_url.to_string(),
            ..NodeStatus::default()
        },
    }
}

/// Joins, retrying every 2 s until the server accepts or shutdown.
pub async fn join_until_accepted(
    shared: &Shared,
    info: &EngineInfo,
    address: &str,
    agent_url: &str,
    shutdown: &mut watch::Receiver<bool>,
) {
    let req = join_request(shared, info, address, agent_url);
    let opts = &shared.options;
    loop {
        match shared
            .client
            .join_node(&opts.environment, &opts.name, &req)
            .await
        {
            Ok(_) => {
                tracing::info!("joined {} as node {}", opts.server_url, opts.name);
                return;
            }
            Err(e) => tracing::warn!("joining {}: {e}; retrying", opts.server_url),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// How long a heartbeat may take: twice the interval, at least 2 s.
fn heartbeat_timeout(interval: Duration) -> Duration {
    (interval * 2).max(Duration::from_secs(2))
}

/// Heartbeats at the interval the server asks for; joins again when the server forgot the node.
pub async fn heartbeat_loop(
    shared: Arc<Shared>,
    info: EngineInfo,
    address: String,
    agent_url: String,
    mut shutdown: watch::Receiver<bool>,
) {
    let opts = &shared.options;
    let mut interval = Duration::from_secs(1);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        // A heartbeat lost on a dead link would otherwise wait for TCP to
        // give up (minutes): give up after an interval or two, and try again
        // on a fresh connection, so that a healed link is seen at once.
        let beat = shared.client.heartbeat(&opts.environment, &opts.name);
        let Ok(answer) = tokio::time::timeout(heartbeat_timeout(interval), beat).await else {
            tracing::warn!(
                "heartbeat: no answer within {:?}",
                heartbeat_timeout(interval)
            );
            continue;
        };
        match answer {
            Ok(ack) => interval = Duration::from_secs(ack.heartbeat_interval_s.clamp(1, 60)),
            Err(e) if e.is_not_found() => {
                tracing::warn!(
                    "the server no longer knows node {}; joining again",
                    opts.name
                );
                let req = join_request(&shared, &info, &address, &agent_url);
                if let Err(e) = shared
                    .client
                    .join_node(&opts.environment, &opts.name, &req)
                    .await
                {
                    tracing::warn!("joining again: {e}");
                }
            }
            Err(e) => tracing::warn!("heartbeat: {e}"),
        }
    }
}
