//! Load-balancer instances: an instance of a service with an `lb` config is
//! a proxy run in the agent's own process (`corral_lb`), not a container.
//! The agent starts it when the instance is placed here, gives it the new
//! config when the service changes, and drains and stops it when the
//! instance is removed.
//!
//! Draining on the other side: an instance that load balancers route to
//! waits [`DRAIN_DELAY`] after it is marked `removing` before its container
//! is stopped, so every balancer (which stops sending it new requests as
//! soon as it sees `removing`) lets the requests in flight finish first.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use corral_lb::{LbHandle, LbRuntime, TlsMaterial};
use corral_netview::EnvSnapshot;
use corral_types::{Instance, InstanceState, InstanceStatus, LbConfig};

use crate::Shared;
use crate::launch::epoch_ms;

/// How long an instance that load balancers route to keeps running after it
/// is marked `removing`: balancers see the mark within tens of milliseconds
/// and stop sending it requests; those in flight get the rest.
pub const DRAIN_DELAY: Duration = Duration::from_secs(2);

/// True for instances that are load balancers (run by the agent itself).
pub fn is_balancer(inst: &Instance) -> bool {
    inst.spec.launch.lb.is_some()
}

/// True when some load balancer of the environment routes to the service
/// of `inst`.
pub fn routed_to(view: &EnvSnapshot, inst: &Instance) -> bool {
    view.services.values().any(|svc| {
        svc.spec.lb.as_ref().is_some_and(|lb| {
            lb.port_rules.iter().any(|rule| {
                let (stack, service) = rule.target(&svc.spec.stack);
                let object = if stack.is_empty() {
                    service.to_string()
                } else {
                    format!("{stack}-{service}")
                };
                object == inst.spec.service
            })
        })
    })
}

/// The load balancers running on this node, by instance uid.
#[derive(Default)]
pub struct Balancers {
    running: Mutex<BTreeMap<String, Running>>,
}

struct Running {
    handle: LbHandle,
    generation: u64,
}

impl Balancers {
    /// Makes the running balancers match the balancer instances of `desired`.
    pub async fn reconcile(&self, shared: &Arc<Shared>, desired: &[Arc<Instance>]) {
        let mine: Vec<&Instance> = desired
            .iter()
            .map(Arc::as_ref)
            .filter(|i| is_balancer(i) && i.spec.node == shared.options.name)
            .collect();
        let wanted: BTreeSet<&str> = mine
            .iter()
            .filter(|i| !i.spec.removing)
            .map(|i| i.meta.uid.as_str())
            .collect();
        let mut running = self.running.lock().await;
        let gone: Vec<String> = running
            .keys()
            .filter(|uid| !wanted.contains(uid.as_str()))
            .cloned()
            .collect();
        for uid in gone {
            if let Some(old) = running.remove(&uid) {
                // Draining takes up to the balancer's drain timeout: not in the pass.
                tokio::spawn(old.handle.stop());
            }
        }
        for inst in mine {
            if inst.spec.removing {
                delete_instance(shared, inst);
                continue;
            }
            match running.get(&inst.meta.uid) {
                None => {
                    if let Some(r) = start(shared, inst).await {
                        running.insert(inst.meta.uid.clone(), r);
                    }
                }
                Some(r) if r.generation != inst.spec.service_generation => {
                    update(shared, inst, &r.handle).await;
                    if let Some(r) = running.get_mut(&inst.meta.uid) {
                        r.generation = inst.spec.service_generation;
                    }
                }
                Some(_) => {}
            }
        }
    }
}

async fn start(shared: &Arc<Shared>, inst: &Instance) -> Option<Running> {
    let config = inst.spec.launch.lb.clone().unwrap_or_default();
    let certs = match certificates(shared, inst, &config).await {
        Ok(certs) => certs,
        Err(reason) => {
            failed(shared, inst, reason);
            return None;
        }
    };
    let started = LbRuntime::start(
        &inst.meta.name,
        config,
        &inst.spec.launch.stack,
        certs,
        shared.view.clone(),
        IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    )
    .await;
    match started {
        Ok(handle) => {
            tracing::info!("load balancer {} listening", inst.meta.name);
            let status = InstanceStatus {
                state: InstanceState::Running,
                started_ms: epoch_ms(),
                started_at: now_rfc3339(),
                restarts: inst.status.restarts,
                ..InstanceStatus::default()
            };
            report_if_changed(shared, inst, status);
            Some(Running {
                handle,
                generation: inst.spec.service_generation,
            })
        }
        Err(e) => {
            failed(shared, inst, e.to_string());
            None
        }
    }
}

async fn update(shared: &Arc<Shared>, inst: &Instance, handle: &LbHandle) {
    let config = inst.spec.launch.lb.clone().unwrap_or_default();
    let result = match certificates(shared, inst, &config).await {
        Ok(certs) => handle
            .update(config, certs)
            .await
            .map_err(|e| e.to_string()),
        Err(reason) => Err(reason),
    };
    match result {
        Ok(()) if !inst.status.reason.is_empty() => {
            let status = InstanceStatus {
                reason: String::new(),
                ..inst.status.clone()
            };
            report_if_changed(shared, inst, status);
        }
        Ok(()) => {}
        // The old config keeps serving; the reason says why the new one did not apply.
        Err(reason) => {
            let status = InstanceStatus {
                reason,
                ..inst.status.clone()
            };
            report_if_changed(shared, inst, status);
        }
    }
}

/// The certificates the config names, read from the server.
async fn certificates(
    shared: &Shared,
    inst: &Instance,
    config: &LbConfig,
) -> Result<BTreeMap<String, TlsMaterial>, String> {
    if config.certificates.is_empty() && config.default_certificate.is_empty() {
        return Ok(BTreeMap::new());
    }
    let materials = shared
        .client
        .certificate_material(
            &inst.meta.environment,
            &shared.options.name,
            &inst.meta.name,
        )
        .await
        .map_err(|e| format!("certificates: {e}"))?;
    Ok(materials
        .certificates
        .into_iter()
        .map(|c| {
            (
                c.name,
                TlsMaterial {
                    cert_chain_pem: c.certificate,
                    key_pem: c.key,
                },
            )
        })
        .collect())
}

fn failed(shared: &Shared, inst: &Instance, reason: String) {
    tracing::warn!("load balancer {}: {reason}", inst.meta.name);
    let status = InstanceStatus {
        state: InstanceState::Failed,
        reason,
        restarts: inst.status.restarts,
        ..InstanceStatus::default()
    };
    report_if_changed(shared, inst, status);
}

fn report_if_changed(shared: &Shared, inst: &Instance, status: InstanceStatus) {
    if inst.status != status {
        crate::execute::report(shared, inst, status);
    }
}

/// Deletes a removed balancer's instance (its proxy was stopped above).
fn delete_instance(shared: &Arc<Shared>, inst: &Instance) {
    let shared = shared.clone();
    let (env, name) = (inst.meta.environment.clone(), inst.meta.name.clone());
    tokio::spawn(async move {
        let node = shared.options.name.clone();
        match shared.client.finish_instance(&env, &node, &name).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => tracing::warn!("deleting load balancer instance {name}: {e}"),
        }
    });
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
