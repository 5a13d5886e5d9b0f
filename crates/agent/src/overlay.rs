//! The environment's managed network on this node: the engine network of
//! the node's slice, and the VXLAN device, routes, neighbour and
//! forwarding entries and iptables chains that link it to every other
//! node (see `corral_overlay`). Reprogrammed whenever the node list
//! changes, and at least every [`REAPPLY`] to repair drift.
//!
//! What it publishes ([`OverlayState`] through `Shared::overlay`) is what
//! the rest of the agent needs: the network managed containers join and
//! the gateway address (their DNS server; the metadata service's bridge).
//! `None` until the node has a slice and its kernel is programmed, and for
//! good when programming fails (not root, no `ip`): managed containers
//! then run on the engine's default bridge.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use corral_engine::{ContainerEngine, EngineError, NetworkConfig};
use corral_overlay::{
    IpCommands, NetProgrammer, OVERLAY_MTU, OverlayError, OverlayPlan, apply_plan,
    check_host_routes, plan_overlay,
};
use corral_types::{ContainerLabels, Environment, Ipv4Cidr};

use crate::Shared;

/// How often the node list is read.
const POLL: Duration = Duration::from_secs(3);
/// An unchanged plan is applied again this often (repairs what was removed).
const REAPPLY: Duration = Duration::from_secs(30);

/// This node's part of its environment's managed network, once programmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayState {
    pub environment: String,
    /// The engine network managed containers join (`corral-<env>-<cluster>`).
    pub network: String,
    /// Its bridge device (`cr-<tag>`), which also holds the metadata address.
    pub bridge: String,
    /// The environment's range and this node's /24 of it.
    pub env_range: Ipv4Cidr,
    pub subnet: Ipv4Cidr,
    /// The bridge's address: the containers' gateway and DNS server.
    pub gateway: Ipv4Addr,
}

impl OverlayState {
    fn of(plan: &OverlayPlan) -> Self {
        OverlayState {
            environment: plan.environment.clone(),
            network: plan.network.clone(),
            bridge: plan.bridge.clone(),
            env_range: plan.env_range,
            subnet: plan.subnet,
            gateway: plan.gateway,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum SyncError {
    #[error("reading the environment or its nodes: {0}")]
    Api(#[from] corral_api::ApiError),
    #[error("environment {env}: range {range:?} is not valid")]
    Range { env: String, range: String },
    #[error(transparent)]
    Overlay(#[from] OverlayError),
    #[error("engine network {network}: {source}")]
    Engine {
        network: String,
        source: EngineError,
    },
    #[error(
        "engine network {network} has subnet {found}, not this node's {want}, and cannot be removed: {source}"
    )]
    Stale {
        network: String,
        found: String,
        want: String,
        source: EngineError,
    },
}

/// Keeps this node's overlay programmed until shutdown. `first` is sent
/// once the first attempt is over (programmed, failed, or not ready).
pub async fn run(
    shared: Arc<Shared>,
    state: watch::Sender<Option<OverlayState>>,
    first: oneshot::Sender<()>,
    mut shutdown: watch::Receiver<bool>,
) {
    let net = IpCommands;
    let mut first = Some(first);
    let mut last: Option<(OverlayPlan, Instant)> = None;
    let mut failing = false;
    loop {
        match sync_once(&shared, &net, last.as_ref()).await {
            Ok(Some(plan)) => {
                if failing {
                    tracing::info!("managed network: programmed again");
                }
                failing = false;
                crate::join::report_network_error(&shared, "").await;
                state.send_if_modified(|s| {
                    let new = Some(OverlayState::of(&plan));
                    let changed = *s != new;
                    *s = new;
                    changed
                });
                last = Some((plan, Instant::now()));
            }
            Ok(None) => {}
            Err(SyncError::Overlay(OverlayError::NotReady(why))) => {
                tracing::debug!("managed network: {why}");
            }
            Err(e) => {
                let message = e.to_string();
                if !failing {
                    failing = true;
                    if matches!(e, SyncError::Overlay(OverlayError::RangeOverlap { .. })) {
                        tracing::error!(
                            "managed network: {message}; containers of managed-mode services \
                             run on the engine's default bridge until it is resolved"
                        );
                    } else {
                        tracing::warn!(
                            "managed network: {message}; containers of managed-mode services \
                             run on the engine's default bridge until it works (the agent must \
                             run as root with iproute2 and iptables)"
                        );
                    }
                } else {
                    tracing::debug!("managed network: {message}");
                }
                crate::join::report_network_error(&shared, &message).await;
            }
        }
        if let Some(tx) = first.take() {
            let _ = tx.send(());
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// One pass: the plan from the current node list, applied when it
/// changed or [`REAPPLY`] passed. `Ok(None)`: nothing to do.
async fn sync_once(
    shared: &Shared,
    net: &dyn NetProgrammer,
    last: Option<&(OverlayPlan, Instant)>,
) -> Result<Option<OverlayPlan>, SyncError> {
    let env = &shared.options.environment;
    let environment: Environment = shared
        .client
        .get_path(&format!("/v1/environments/{env}"))
        .await?;
    let range: Ipv4Cidr = environment
        .spec
        .network
        .parse()
        .map_err(|_| SyncError::Range {
            env: env.clone(),
            range: environment.spec.network.clone(),
        })?;
    let nodes = shared.client.nodes(env).await?.items;
    let plan = plan_overlay(shared.cluster(), env, range, &shared.options.name, &nodes)?;
    if let Some((previous, at)) = last
        && *previous == plan
        && at.elapsed() < REAPPLY
    {
        return Ok(None);
    }
    // Before the engine network exists: its bridge would take the slice's
    // addresses next to whatever already routes them.
    check_host_routes(net, &plan).await?;
    ensure_network(shared.engine.as_ref(), &plan).await?;
    let applied = apply_plan(net, &plan).await?;
    if applied.changes > 0 {
        tracing::info!(
            "managed network {}: slice {}, {} peers, {} changes",
            plan.network,
            plan.subnet,
            plan.peers.len(),
            applied.changes
        );
    }
    Ok(Some(plan))
}

/// Creates the engine network of this node's slice, or makes a stale one
/// (another slice, after the node got a new one) anew.
async fn ensure_network(engine: &dyn ContainerEngine, plan: &OverlayPlan) -> Result<(), SyncError> {
    let want = plan.subnet.to_string();
    let engine_error = |source| SyncError::Engine {
        network: plan.network.clone(),
        source,
    };
    match engine.inspect_network(&plan.network).await {
        Ok(found) if found.subnet == want => return Ok(()),
        Ok(found) => {
            if let Err(source) = engine.remove_network(&plan.network).await {
                return Err(SyncError::Stale {
                    network: plan.network.clone(),
                    found: found.subnet,
                    want,
                    source,
                });
            }
        }
        Err(EngineError::NetworkNotFound(_)) => {}
        Err(e) => return Err(engine_error(e)),
    }
    let config = NetworkConfig {
        name: plan.network.clone(),
        subnet: want,
        gateway: plan.gateway.to_string(),
        bridge: plan.bridge.clone(),
        mtu: OVERLAY_MTU,
        masquerade: false,
        labels: [(
            ContainerLabels::ENVIRONMENT.to_string(),
            plan.environment.clone(),
        )]
        .into(),
    };
    match engine.create_network(&config).await {
        // Created meanwhile by another agent of this engine.
        Ok(_) | Err(EngineError::NameInUse(_)) => Ok(()),
        Err(e) => Err(engine_error(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_engine::FakeEngine;
    use corral_types::{Kind, Node, NodeSpec, Object};

    fn plan(subnet: &str) -> OverlayPlan {
        let mut n: Node = Object::new(Kind::Node, "default", "n1", NodeSpec::default());
        n.status.subnet = subnet.into();
        n.status.address = "10.0.0.1".into();
        let range = "10.42.0.0/16".parse().unwrap_or_else(|_| unreachable!());
        plan_overlay("", "default", range, "n1", &[n]).unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn the_engine_network_follows_the_nodes_slice() {
        let engine = FakeEngine::new();
        ensure_network(&engine, &plan("10.42.1.0/24"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let net = engine
            .inspect_network("corral-default")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(net.subnet, "10.42.1.0/24");
        assert_eq!(net.gateway, "10.42.1.1");
        ensure_network(&engine, &plan("10.42.1.0/24"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        ensure_network(&engine, &plan("10.42.5.0/24"))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let net = engine
            .inspect_network("corral-default")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(net.subnet, "10.42.5.0/24");
    }
}
