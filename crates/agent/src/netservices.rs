//! The services every node offers its containers once its managed network
//! is up: the internal DNS server on the gateway address (port 53; the
//! containers' resolver) and the metadata service on 169.254.169.250:80
//! (also known as `rancher-metadata` and `metadata` through the DNS).
//! Both answer from the agent's view of its environment (`Shared::view`).
//! They move when the gateway changes and stop with the agent.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{OverlayState, Shared};

/// Where the host's own resolvers are listed (external names go there).
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Serves DNS and metadata for the current overlay state until shutdown.
pub async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut overlay = shared.overlay.clone();
    loop {
        let state = overlay.borrow_and_update().clone();
        let (stop_tx, stop_rx) = watch::channel(false);
        let tasks = match state {
            Some(state) => start(&shared, &state, stop_rx),
            None => Vec::new(),
        };
        let done = tokio::select! {
            changed = overlay.changed() => changed.is_err(),
            _ = shutdown.wait_for(|s| *s) => true,
        };
        let _ = stop_tx.send(true);
        for t in tasks {
            let _ = t.await;
        }
        if done {
            return;
        }
    }
}

fn start(
    shared: &Arc<Shared>,
    state: &OverlayState,
    stop: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let dns_addr = SocketAddr::new(IpAddr::V4(state.gateway), 53);
    let upstream = corral_dns::host_resolvers(Path::new(RESOLV_CONF), &[dns_addr]);
    let config = corral_dns::DnsConfig {
        listen: vec![dns_addr],
        upstream,
        environment: state.environment.clone(),
        // Only the environment's containers (and this node, from the
        // gateway) are answered; see docs/SECURITY.md.
        clients: vec![state.env_range],
        ..corral_dns::DnsConfig::default()
    };
    let view = shared.view.clone();
    let dns_stop = stop.clone();
    let dns = tokio::spawn(async move {
        tracing::info!("internal DNS on {dns_addr}");
        if let Err(e) = corral_dns::serve(config, view, dns_stop).await {
            tracing::warn!("internal DNS on {dns_addr}: {e}");
        }
    });
    let view = shared.view.clone();
    let metadata = tokio::spawn(async move {
        let addr = SocketAddr::new(IpAddr::V4(corral_dns::METADATA_ADDRESS), 80);
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!("metadata service on {addr}");
                if let Err(e) = corral_metadata::serve(listener, view, stop).await {
                    tracing::warn!("metadata service on {addr}: {e}");
                }
            }
            Err(e) => tracing::warn!("metadata service: listen on {addr}: {e}"),
        }
    });
    vec![dns, metadata]
}
