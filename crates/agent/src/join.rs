//! Joining the server and staying joined.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use corral_api::JoinRequest;
use corral_engine::EngineInfo;
use corral_types::NodeStatus;

use crate::Shared;

fn join_request(shared: &Shared, info: &EngineInfo, address: &str, agent_url: &str) -> JoinRequest {
    let network_error = shared
        .network_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    JoinRequest {
        labels: shared.options.labels.clone(),
        status: NodeStatus {
            address: address.to_string(),
            hostname: info.hostname.clone(),
            cpu_millis: info.cpu_millis,
            memory_bytes: info.memory_bytes,
            engine_version: info.version.clone(),
            agent_url: agent_url.to_string(),
            network_error,
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
            Ok(ack) => {
                tracing::info!(
                    "joined {} as node {} (cluster {})",
                    opts.server_url,
                    opts.name,
                    ack.cluster
                );
                let _ = shared.cluster.set(ack.cluster);
                let _ = shared.joined.set(req);
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
    let mut warned_cluster = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
        // A heartbeat lost on a dead link would otherwise wait for TCP to
        // give up (minutes): give up after an interval or two, and try again
        // on a fresh connection, so that a healed link is seen at once.
        let beat = async {
            // Take turns with the status reports (the server counts a
            // report from this node as a heartbeat too, so waiting behind
            // one does not make the node look lost). Not longer than an
            // interval: a report stuck on a dead link holds the slot for
            // its whole timeout, and a healed link must still be seen at
            // once (the heartbeat then goes on a connection of its own).
            let _slot = tokio::time::timeout(interval, shared.request_slot.lock())
                .await
                .ok();
            shared.client.heartbeat(&opts.environment, &opts.name).await
        };
        let Ok(answer) = tokio::time::timeout(heartbeat_timeout(interval), beat).await else {
            tracing::warn!(
                "heartbeat: no answer within {:?}",
                heartbeat_timeout(interval)
            );
            continue;
        };
        match answer {
            Ok(ack) => {
                interval = Duration::from_secs(ack.heartbeat_interval_s.clamp(1, 60));
                shared
                    .heartbeat_interval_s
                    .store(interval.as_secs(), std::sync::atomic::Ordering::Relaxed);
                if ack.cluster != shared.cluster() && !warned_cluster {
                    warned_cluster = true;
                    tracing::warn!(
                        "the server's cluster id is now {:?}, not {:?} (its data directory was \
                         replaced?); this agent keeps the devices it made until it restarts",
                        ack.cluster,
                        shared.cluster()
                    );
                }
            }
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

/// Records why the managed network is not programmed (empty: it is) and
/// joins again when that changed, so the node's `status.network_error`
/// shows it. A failed join is only logged: the next change or the
/// heartbeat's rejoin carries it.
pub async fn report_network_error(shared: &Shared, error: &str) {
    {
        let mut current = shared
            .network_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *current == error {
            return;
        }
        *current = error.to_string();
    }
    let Some(joined) = shared.joined.get() else {
        return;
    };
    let mut req = joined.clone();
    req.status.network_error = error.to_string();
    let opts = &shared.options;
    if let Err(e) = shared
        .client
        .join_node(&opts.environment, &opts.name, &req)
        .await
    {
        tracing::warn!("reporting the managed network's state: {e}");
    }
}
