//! `--wait`: follows services until they converge, with a bar each
//! (`progress`), then prints one line per service on standard error
//! (standard output keeps the command's own output, such as a plan in
//! JSON); fails with what holds them up when the rollout was rolled back
//! or paused, or after `timeout` (the rollout itself goes on).

use std::time::Duration;

use anyhow::bail;
use corral_api::Client;
use corral_types::{Instance, Service};

use crate::errors::list_error;
use crate::progress::{Bars, POLL, Step, convergence};

/// Whose instances to read on each round.
pub(crate) enum Scope<'a> {
    Service(&'a str),
    Stack(&'a str),
}

/// Waits until every service of `scope` is ready.
pub(crate) async fn services(
    client: &Client,
    env: &str,
    scope: Scope<'_>,
    timeout: Duration,
) -> anyhow::Result<()> {
    let mut bars = Bars::new();
    loop {
        let (services, instances) = read(client, env, &scope).await?;
        let steps: Vec<(String, Step)> = services
            .iter()
            .map(|s| (s.meta.name.clone(), convergence(s, &instances)))
            .collect();
        for (name, step) in &steps {
            bars.set(name, step.ready, step.total, &step.message);
        }
        let failed: Vec<String> = steps
            .iter()
            .filter_map(|(name, step)| match &step.outcome {
                Some(Err(why)) => Some(format!("{name}: {why}")),
                _ => None,
            })
            .collect();
        let done = steps.iter().all(|(_, s)| s.outcome == Some(Ok(())));
        if !failed.is_empty() || done || bars.elapsed() >= timeout {
            bars.clear();
            eprint!("{}", summary(&steps));
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
            if !done {
                bail!("not ready after {timeout:?} (the rollout goes on; see corral service ps)");
            }
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The services of the scope and their instances.
async fn read(
    client: &Client,
    env: &str,
    scope: &Scope<'_>,
) -> anyhow::Result<(Vec<Service>, Vec<Instance>)> {
    match scope {
        Scope::Service(name) => {
            let service = crate::service::get(client, env, name).await?;
            let instances = client
                .service_instances(env, name)
                .await
                .map_err(|e| list_error(e, "instances", env))?;
            Ok((vec![service], instances.items))
        }
        Scope::Stack(stack) => {
            let mut services = client
                .services(env)
                .await
                .map_err(|e| list_error(e, "services", env))?
                .items;
            services.retain(|s| s.spec.stack == *stack);
            services.sort_by(|a, b| a.meta.name.cmp(&b.meta.name));
            let instances = client
                .stack_instances(env, stack)
                .await
                .map_err(|e| list_error(e, "instances", env))?;
            Ok((services, instances.items))
        }
    }
}

/// `web: ready 3/3` lines, or where each one stopped.
fn summary(steps: &[(String, Step)]) -> String {
    steps
        .iter()
        .map(|(name, s)| format!("{name}: {} {}/{}\n", s.message, s.ready, s.total))
        .collect()
}
