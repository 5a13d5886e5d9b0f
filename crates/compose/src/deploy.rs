//! `deploy:` of Compose v3 and the Compose Specification (Swarm's keys).

use corral_types::{
    FailureAction, JobSpec, Placement, PlacementRule, Resources, RestartPolicy, RuleTarget,
    ServiceMode, ServiceSpec, Strength, UpdateConfig, UpdateOrder,
};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::service::{bytes, cpus, duration};
use crate::value::Node;

pub(crate) fn deploy(
    ctx: &mut Ctx,
    spec: &mut ServiceSpec,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "mode" => match val.str(ctx, &k)? {
                "replicated" => spec.mode = ServiceMode::Replicated,
                "global" => spec.mode = ServiceMode::Global,
                "replicated-job" | "global-job" => {
                    let msg = "jobs are written as restart_policy condition none or on-failure";
                    return Err(ctx.unsupported(val.pos, &k, msg));
                }
                other => {
                    return Err(ctx.invalid(
                        val.pos,
                        &k,
                        format!("{other:?} is not replicated or global"),
                    ));
                }
            },
            "replicas" => spec.scale = val.u32(ctx, &k)?,
            "resources" => resources(ctx, spec, val, &k)?,
            "placement" => spec.placement = placement(ctx, val, &k)?,
            "update_config" => spec.update = update_config(ctx, val, &k)?,
            "rollback_config" => spec.rollback = update_config(ctx, val, &k)?,
            "restart_policy" => restart_policy(ctx, spec, val, &k)?,
            "labels" => ctx.ignored(
                e.pos,
                &k,
                "service labels are not supported: use labels for container labels",
            ),
            "endpoint_mode" => {
                ctx.ignored(e.pos, &k, "corral's DNS gives every instance's address")
            }
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(())
}

fn resources(
    ctx: &mut Ctx,
    spec: &mut ServiceSpec,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "limits" => spec.limits = amounts(ctx, &e.value, &k)?,
            "reservations" => spec.resources = amounts(ctx, &e.value, &k)?,
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(())
}

fn amounts(ctx: &mut Ctx, v: &Node, key: &str) -> Result<Resources, ComposeError> {
    let mut r = Resources::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "cpus" => r.cpu_millis = cpus(ctx, &e.value, &k)?,
            "memory" => r.memory_bytes = bytes(ctx, &e.value, &k)?,
            "pids" => ctx.ignored(e.pos, &k, "not supported by corral"),
            "devices" | "generic_resources" => {
                return Err(ctx.unsupported(
                    e.pos,
                    &k,
                    "device reservations are not supported yet",
                ));
            }
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(r)
}

fn placement(ctx: &mut Ctx, v: &Node, key: &str) -> Result<Placement, ComposeError> {
    let mut p = Placement::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "constraints" => {
                for (i, c) in e.value.strings(ctx, &k)?.iter().enumerate() {
                    if let Some(rule) = constraint(ctx, &e.value, &index(&k, i), c)? {
                        p.rules.push(rule);
                    }
                }
            }
            "preferences" => {
                for (i, item) in e.value.seq(ctx, &k)?.iter().enumerate() {
                    let ik = index(&k, i);
                    for s in item.map(ctx, &ik)? {
                        let sk = join(&ik, &s.key);
                        if s.key != "spread" {
                            return Err(ctx.unknown(s.pos, &sk));
                        }
                        let target = s.value.str(ctx, &sk)?;
                        let Some(label) = target.strip_prefix("node.labels.") else {
                            let msg =
                                format!("{target:?}: only node.labels.<key> can be spread over");
                            return Err(ctx.unsupported(s.value.pos, &sk, msg));
                        };
                        p.spread_over.push(label.to_string());
                    }
                }
            }
            "max_replicas_per_node" => p.max_per_node = e.value.u32(ctx, &k)?,
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(p)
}

/// `node.labels.K == V`, `node.name != X`, `node.role == manager`.
fn constraint(
    ctx: &mut Ctx,
    at: &Node,
    key: &str,
    c: &str,
) -> Result<Option<PlacementRule>, ComposeError> {
    let (left, right, equal) = if let Some((l, r)) = c.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = c.split_once("!=") {
        (l, r, false)
    } else {
        return Err(ctx.invalid(at.pos, key, format!("{c:?} has no == or !=")));
    };
    let (left, value) = (left.trim(), right.trim().to_string());
    let target = if let Some(label) = left.strip_prefix("node.labels.") {
        RuleTarget::NodeLabel {
            key: label.to_string(),
            value,
        }
    } else {
        match left {
            "node.name" | "node.hostname" => RuleTarget::NodeName { value },
            "node.role" if value == "manager" || value == "worker" => {
                RuleTarget::NodeRole { value }
            }
            "node.role" => {
                return Err(ctx.invalid(at.pos, key, format!("{c:?}: role is manager or worker")));
            }
            "node.platform.os" if value == "linux" && equal => {
                ctx.ignored(at.pos, key, "every corral node runs linux");
                return Ok(None);
            }
            _ => {
                let msg = format!(
                    "{c:?}: only node.labels.*, node.name, node.hostname and node.role are supported"
                );
                return Err(ctx.unsupported(at.pos, key, msg));
            }
        }
    };
    Ok(Some(PlacementRule {
        target,
        equal,
        strength: Strength::Hard,
    }))
}

fn update_config(ctx: &mut Ctx, v: &Node, key: &str) -> Result<UpdateConfig, ComposeError> {
    let mut u = UpdateConfig::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            // 0 means all at once: replaced by the scale once it is known.
            "parallelism" => u.batch_size = val.u32(ctx, &k)?,
            "delay" => u.interval_ms = duration(ctx, val, &k)?,
            "monitor" => u.monitor_ms = duration(ctx, val, &k)?,
            "order" => {
                u.order = match val.str(ctx, &k)? {
                    "stop-first" => UpdateOrder::StopFirst,
                    "start-first" => UpdateOrder::StartFirst,
                    other => {
                        return Err(ctx.invalid(
                            val.pos,
                            &k,
                            format!("{other:?} is not stop-first or start-first"),
                        ));
                    }
                }
            }
            "failure_action" => {
                u.failure_action = match val.str(ctx, &k)? {
                    "rollback" => FailureAction::Rollback,
                    "pause" => FailureAction::Pause,
                    "continue" => FailureAction::Continue,
                    other => {
                        let msg = format!("{other:?} is not rollback, pause or continue");
                        return Err(ctx.invalid(val.pos, &k, msg));
                    }
                }
            }
            "max_failure_ratio" => ctx.ignored(e.pos, &k, "any failed batch counts as a failure"),
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(u)
}

fn restart_policy(
    ctx: &mut Ctx,
    spec: &mut ServiceSpec,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    let mut max_attempts = None;
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "condition" => {
                spec.restart = match val.str(ctx, &k)? {
                    "none" => RestartPolicy::Never,
                    "on-failure" => RestartPolicy::OnFailure,
                    "any" => RestartPolicy::Always,
                    other => {
                        return Err(ctx.invalid(
                            val.pos,
                            &k,
                            format!("{other:?} is not none, on-failure or any"),
                        ));
                    }
                }
            }
            "max_attempts" => max_attempts = Some((val.u32(ctx, &k)?, e.pos, k)),
            "delay" | "window" => ctx.ignored(e.pos, &k, "corral restarts with its own backoff"),
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    if let Some((n, pos, k)) = max_attempts.filter(|m| m.0 > 0) {
        if spec.restart == RestartPolicy::Always {
            ctx.ignored(
                pos,
                &k,
                "max_attempts applies to condition on-failure or none",
            );
        } else {
            spec.job = Some(JobSpec { max_attempts: n });
        }
    }
    Ok(())
}
