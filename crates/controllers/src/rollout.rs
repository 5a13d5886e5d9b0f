//! Rolling out launch-config changes: revisions, batches, health gates,
//! automatic rollback. Every rollout ends in done, rolled-back or paused
//! with a reason; it never waits forever (the monitor deadline bounds each
//! batch).

use corral_types::{
    FailureAction, HISTORY_LIMIT, Health, Instance, InstanceState, LaunchRevision, Service,
    ServiceSpec, ServiceStatus, UpdateConfig, UpdateOrder, UpgradeState, UpgradeStatus,
};

use crate::drain::plan_drain;
use crate::service_plan::{
    InstanceAction, Maker, ServiceContext, ServicePlan, retire, retire_order,
};

/// Records a new launch revision when the spec's launch config changed, and
/// starts its rollout (the first revision needs none).
pub fn track_revision(
    spec: &ServiceSpec,
    status: &ServiceStatus,
    now: &str,
    now_ms: u64,
) -> ServiceStatus {
    let launch = spec.launch();
    let mut st = status.clone();
    let next = match st.history.last() {
        Some(last) if last.launch == launch => return st,
        Some(last) => last.revision + 1,
        None => 1,
    };
    push_revision(&mut st, next, launch, now);
    if next > 1 {
        st.upgrade = Some(UpgradeStatus {
            state: UpgradeState::Upgrading,
            revision: next,
            started_at: now.to_string(),
            ..UpgradeStatus::default()
        });
    }
    let _ = now_ms;
    st
}

fn push_revision(st: &mut ServiceStatus, revision: u64, launch: ServiceSpec, now: &str) {
    st.history.push(LaunchRevision {
        revision,
        launch,
        created_at: now.to_string(),
    });
    let excess = st.history.len().saturating_sub(HISTORY_LIMIT);
    st.history.drain(..excess);
}

/// Puts the previous launch config back and starts rolling it out with the
/// rollback settings. `None` when there is no previous revision.
pub fn begin_rollback(
    service: &Service,
    reason: &str,
    now: &str,
) -> Option<(ServiceSpec, ServiceStatus)> {
    let history = &service.status.history;
    let previous = history.len().checked_sub(2).and_then(|i| history.get(i))?;
    let current = history.last()?;
    let spec = ServiceSpec {
        scale: service.spec.scale,
        update: service.spec.update,
        rollback: service.spec.rollback,
        ..previous.launch.clone()
    };
    let mut status = service.status.clone();
    let revision = current.revision + 1;
    push_revision(&mut status, revision, previous.launch.clone(), now);
    status.upgrade = Some(UpgradeStatus {
        state: UpgradeState::RollingBack,
        revision,
        reason: reason.to_string(),
        started_at: now.to_string(),
        ..UpgradeStatus::default()
    });
    Some((spec, status))
}

/// Running and, with a health check, healthy; a job that succeeded counts too.
pub(crate) fn ready(inst: &Instance) -> bool {
    let healthy = matches!(inst.status.health, Health::None | Health::Healthy);
    let job_done = inst.spec.launch.job.is_some()
        && inst.status.state == InstanceState::Exited
        && inst.status.exit_code == Some(0);
    job_done || (inst.status.state == InstanceState::Running && healthy)
}

/// Why a new instance counts as failed, if it does.
fn failure(inst: &Instance) -> Option<String> {
    let name = &inst.meta.name;
    match inst.status.state {
        InstanceState::Failed => {
            return Some(format!("instance {name} failed: {}", inst.status.reason));
        }
        InstanceState::Exited if !ready(inst) => {
            let code = inst.status.exit_code.unwrap_or(-1);
            return Some(format!("instance {name} exited with code {code}"));
        }
        _ => {}
    }
    if inst.status.health == Health::Unhealthy {
        return Some(format!("instance {name} is unhealthy"));
    }
    if inst.status.restarts > 0 {
        return Some(format!(
            "instance {name} restarted {} times",
            inst.status.restarts
        ));
    }
    None
}

/// Keeps `scale` instances, retiring extras (outdated ones first); moves
/// instances off draining nodes start-first (see [`crate::drain`]).
fn keep_scale(
    ctx: &ServiceContext<'_>,
    live: &[&Instance],
    scale: usize,
    maker: &mut Maker<'_>,
    creating_allowed: bool,
    actions: &mut Vec<InstanceAction>,
) {
    let parallelism = maker.update_parallelism();
    if let Some(drain) = plan_drain(live, ctx.draining_nodes, scale, parallelism) {
        actions.extend(drain.retire.into_iter().map(retire));
        if creating_allowed {
            for _ in 0..drain.create {
                actions.push(maker.make(""));
            }
        }
        return;
    }
    if live.len() > scale {
        let mut order: Vec<&Instance> = live.to_vec();
        order.sort_by_key(|i| ((ctx.current_launch)(i), retire_order(i)));
        actions.extend(order[..live.len() - scale].iter().map(|i| retire(i)));
    } else if creating_allowed {
        for _ in live.len()..scale {
            actions.push(maker.make(""));
        }
    }
}

/// Scale and rollout of a replicated service.
pub(crate) fn plan_replicated(
    ctx: &ServiceContext<'_>,
    service: &Service,
    status: &mut ServiceStatus,
    maker: &mut Maker<'_>,
    creating_allowed: bool,
    plan: &mut ServicePlan,
) {
    let live: Vec<&Instance> = ctx
        .instances
        .iter()
        .copied()
        .filter(|i| !i.spec.removing)
        .collect();
    let (new, old): (Vec<&Instance>, Vec<&Instance>) =
        live.iter().partition(|i| (ctx.current_launch)(i));
    let scale = service.spec.scale as usize;
    let Some(mut up) = status.upgrade.clone() else {
        keep_scale(
            ctx,
            &live,
            scale,
            maker,
            creating_allowed,
            &mut plan.actions,
        );
        return;
    };
    let rolling = matches!(
        up.state,
        UpgradeState::Upgrading | UpgradeState::RollingBack
    );
    if rolling && up.pause_requested {
        up.state = UpgradeState::Paused;
        up.reason = "paused on request".into();
    }
    if old.is_empty() || !rolling || up.state == UpgradeState::Paused {
        if old.is_empty()
            && matches!(
                up.state,
                UpgradeState::Upgrading | UpgradeState::RollingBack
            )
        {
            up.state = if up.state == UpgradeState::Upgrading {
                UpgradeState::Done
            } else {
                UpgradeState::RolledBack
            };
            up.finished_at = ctx.now_rfc3339.to_string();
        }
        status.upgrade = Some(up);
        keep_scale(
            ctx,
            &live,
            scale,
            maker,
            creating_allowed,
            &mut plan.actions,
        );
        return;
    }
    let cfg: UpdateConfig = if up.state == UpgradeState::RollingBack {
        service.spec.rollback
    } else {
        service.spec.update
    };
    if let Some(reason) = batch_failure(&new, &up, &cfg, ctx.now_ms) {
        match (up.state, cfg.failure_action) {
            (_, FailureAction::Continue) => {}
            (UpgradeState::Upgrading, FailureAction::Rollback) => {
                if let Some((spec, st)) = begin_rollback(service, &reason, ctx.now_rfc3339) {
                    plan.spec = Some(spec);
                    *status = st;
                    return;
                }
                pause(&mut up, reason, ctx.now_rfc3339);
                status.upgrade = Some(up);
                return;
            }
            (state, _) => {
                let why = if state == UpgradeState::RollingBack {
                    format!("rollback failed: {reason}")
                } else {
                    reason
                };
                pause(&mut up, why, ctx.now_rfc3339);
                status.upgrade = Some(up);
                return;
            }
        }
    }
    step_rollout(
        ctx,
        &live,
        &new,
        &old,
        scale,
        &cfg,
        &mut up,
        maker,
        creating_allowed,
        &mut plan.actions,
    );
    status.upgrade = Some(up);
}

fn pause(up: &mut UpgradeStatus, reason: String, now: &str) {
    up.state = UpgradeState::Paused;
    up.reason = reason;
    up.finished_at = now.to_string();
}

/// A failure of the current batch: a new instance failed, or the batch did
/// not become ready within the monitor time.
fn batch_failure(
    new: &[&Instance],
    up: &UpgradeStatus,
    cfg: &UpdateConfig,
    now_ms: u64,
) -> Option<String> {
    if let Some(reason) = new.iter().find_map(|i| failure(i)) {
        return Some(reason);
    }
    let waiting: Vec<&&Instance> = new.iter().filter(|i| !ready(i)).collect();
    let overdue =
        up.batch_started_ms > 0 && now_ms.saturating_sub(up.batch_started_ms) > cfg.monitor_ms;
    match waiting.first() {
        Some(inst) if overdue => Some(format!(
            "instance {} did not become ready within {} s",
            inst.meta.name,
            cfg.monitor_ms / 1000
        )),
        _ => None,
    }
}

/// Starts the next batch once the current one is ready and the interval passed.
#[allow(clippy::too_many_arguments)]
fn step_rollout(
    ctx: &ServiceContext<'_>,
    live: &[&Instance],
    new: &[&Instance],
    old: &[&Instance],
    scale: usize,
    cfg: &UpdateConfig,
    up: &mut UpgradeStatus,
    maker: &mut Maker<'_>,
    creating_allowed: bool,
    actions: &mut Vec<InstanceAction>,
) {
    if new.iter().any(|i| !ready(i)) {
        return;
    }
    let mut old_by_order: Vec<&Instance> = old.to_vec();
    old_by_order.sort_by_key(|i| retire_order(i));
    // Start-first: once the new batch is ready, the old ones it replaces go.
    let surplus = live.len().saturating_sub(scale).min(old_by_order.len());
    if surplus > 0 {
        actions.extend(old_by_order.drain(..surplus).map(retire));
        return;
    }
    if up.batch_started_ms > 0 && ctx.now_ms < up.batch_started_ms.saturating_add(cfg.interval_ms) {
        return;
    }
    if !creating_allowed {
        return;
    }
    let n = (cfg.batch_size.max(1) as usize).min(old_by_order.len());
    if cfg.order == UpdateOrder::StopFirst {
        actions.extend(old_by_order[..n].iter().map(|i| retire(i)));
    }
    let missing = scale.saturating_sub(live.len());
    for _ in 0..n + missing {
        actions.push(maker.make(""));
    }
    up.batch_started_ms = ctx.now_ms;
}
