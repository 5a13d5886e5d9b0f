//! Rancher 1.x: the rancher-compose.yml overlay, and the `io.rancher.*`
//! (or `io.corral.*`) scheduling labels on docker-compose services.

use corral_types::{
    JobSpec, PlacementRule, RestartPolicy, RuleTarget, ServiceMode, Strength, UpdateOrder,
};

use crate::ctx::{Ctx, join};
use crate::error::ComposeError;
use crate::health;
use crate::service::Raw;
use crate::value::Node;

/// Keys of a service in rancher-compose.yml.
pub(crate) const RANCHER_KEYS: &[&str] = &[
    "scale",
    "scale_policy",
    "health_check",
    "upgrade_strategy",
    "lb_config",
    "load_balancer_config",
    "certs",
    "default_cert",
    "start_on_create",
    "retain_ip",
    "metadata",
    "drain_timeout_ms",
    "external_ips",
    "storage_driver",
    "network_driver",
];

/// Applies one service's rancher-compose settings.
pub(crate) fn overlay(
    ctx: &mut Ctx,
    raw: &mut Raw,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "scale" => raw.spec.scale = val.u32(ctx, &k)?,
            "health_check" => {
                if raw.spec.health_check.is_some() {
                    ctx.warn(e.pos, &k, "replaces the healthcheck of docker-compose");
                }
                raw.spec.health_check = Some(health::rancher(ctx, val, &k)?);
            }
            "upgrade_strategy" => upgrade_strategy(ctx, raw, val, &k)?,
            "lb_config" => crate::lb::rancher(ctx, raw, val, &k)?,
            "load_balancer_config" | "certs" | "default_cert" => legacy(ctx, raw, e, &k)?,
            "scale_policy" => ctx.ignored(e.pos, &k, "autoscaling is not supported: scale is used"),
            "start_on_create" => ctx.ignored(e.pos, &k, "services always start when created"),
            "retain_ip" => ctx.ignored(e.pos, &k, "instances get a new address when recreated"),
            "metadata" => ctx.ignored(e.pos, &k, "the metadata service is not supported"),
            "drain_timeout_ms" => ctx.ignored(e.pos, &k, "use stop_grace_period"),
            "external_ips" | "storage_driver" | "network_driver" => {
                return Err(ctx.unsupported(e.pos, &k, "not supported by corral"));
            }
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(())
}

/// The Rancher 1.0-1.5 balancer's settings in rancher-compose.yml.
fn legacy(
    ctx: &mut Ctx,
    raw: &mut Raw,
    e: &crate::value::Entry,
    k: &str,
) -> Result<(), ComposeError> {
    let Some(legacy) = raw.legacy_lb.as_mut() else {
        if e.key != "load_balancer_config" {
            ctx.ignored(
                e.pos,
                k,
                "certificates are for load balancers (in lb_config)",
            );
            return Ok(());
        }
        let msg = format!(
            "{} is for a service running {} (Rancher 1.0-1.5's balancer); in lb_config otherwise",
            e.key,
            crate::lb_legacy::LEGACY_LB_IMAGE
        );
        return Err(ctx.unsupported(e.pos, k, msg));
    };
    let val = &e.value;
    match e.key.as_str() {
        "certs" => legacy.certs = val.strings(ctx, k)?,
        "default_cert" => {
            legacy.default_cert = val.opt_str(ctx, k)?.unwrap_or_default().to_string()
        }
        _ => crate::lb_legacy::config(ctx, legacy, val, k)?,
    }
    Ok(())
}

fn upgrade_strategy(ctx: &mut Ctx, raw: &mut Raw, v: &Node, key: &str) -> Result<(), ComposeError> {
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "batch_size" => raw.spec.update.batch_size = val.u32(ctx, &k)?,
            "interval_millis" => raw.spec.update.interval_ms = val.u64(ctx, &k)?,
            "start_first" => {
                raw.spec.update.order = if val.bool(ctx, &k)? {
                    UpdateOrder::StartFirst
                } else {
                    UpdateOrder::StopFirst
                }
            }
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(())
}

/// The label name without `io.rancher.` or `io.corral.`, if it has either.
fn instruction(label: &str) -> Option<&str> {
    label
        .strip_prefix("io.rancher.")
        .or_else(|| label.strip_prefix("io.corral."))
}

/// Takes the scheduling labels out of `container_labels` and applies them.
/// Returns the service's sidekick names (`io.rancher.sidekicks`).
pub(crate) fn apply_labels(
    ctx: &mut Ctx,
    raw: &mut Raw,
    stack: &str,
) -> Result<Vec<String>, ComposeError> {
    let mut sidekicks = Vec::new();
    let labels: Vec<(String, String)> = raw
        .spec
        .container_labels
        .iter()
        .filter(|(k, _)| instruction(k).is_some_and(is_instruction))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (label, value) in labels {
        raw.spec.container_labels.remove(&label);
        let pos = raw.label_pos.get(&label).copied().unwrap_or(raw.pos);
        let key = format!("services.{}.labels.{label}", raw.name);
        let name = instruction(&label).unwrap_or_default();
        let yes = crate::value::parse_bool(&value).unwrap_or(false);
        match name {
            "scheduler.global" if yes => raw.spec.mode = ServiceMode::Global,
            "container.start_once" if yes => {
                raw.start_once = true;
                raw.spec.restart = RestartPolicy::Never;
                raw.spec.job = Some(JobSpec { max_attempts: 0 });
            }
            "sidekicks" => {
                sidekicks.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                );
            }
            "scheduler.global" | "container.start_once" => {}
            affinity => {
                let kind = affinity.trim_start_matches("scheduler.affinity:");
                if !known_affinity(kind) {
                    // Rancher's scheduler skipped labels it did not know.
                    let msg = format!(
                        "unknown affinity {kind:?} (Rancher ignored it too): use host_label, \
                         container_label or container, with _ne, _soft or _soft_ne"
                    );
                    ctx.ignored(pos, &key, &msg);
                    continue;
                }
                let rules = affinity_rules(kind, &value, stack, &raw.name)
                    .map_err(|m| ctx.invalid(pos, &key, m))?;
                raw.spec.placement.rules.extend(rules);
            }
        }
    }
    Ok(sidekicks)
}

fn known_affinity(kind: &str) -> bool {
    let base = ["_soft_ne", "_soft", "_ne"]
        .iter()
        .find_map(|s| kind.strip_suffix(s))
        .unwrap_or(kind);
    matches!(base, "host_label" | "container_label" | "container")
}

fn is_instruction(name: &str) -> bool {
    matches!(
        name,
        "scheduler.global" | "sidekicks" | "container.start_once"
    ) || name.starts_with("scheduler.affinity:")
}

/// `host_label_soft_ne: a=b,c=d` and the like, one rule per item.
fn affinity_rules(
    kind: &str,
    value: &str,
    stack: &str,
    service: &str,
) -> Result<Vec<PlacementRule>, String> {
    let (target, strength, equal) = if let Some(t) = kind.strip_suffix("_soft_ne") {
        (t, Strength::Soft, false)
    } else if let Some(t) = kind.strip_suffix("_soft") {
        (t, Strength::Soft, true)
    } else if let Some(t) = kind.strip_suffix("_ne") {
        (t, Strength::Hard, false)
    } else {
        (kind, Strength::Hard, true)
    };
    let value = value
        .replace("${stack_name}", stack)
        .replace("${service_name}", service);
    let mut rules = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let pair = || {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("{item:?} is not KEY=VALUE"))
        };
        let target = match target {
            "host_label" => {
                let (key, value) = pair()?;
                RuleTarget::NodeLabel { key, value }
            }
            "container_label" => {
                let (key, value) = pair()?;
                RuleTarget::ContainerLabel { key, value }
            }
            "container" => RuleTarget::Instance {
                name: item.to_string(),
            },
            other => {
                return Err(format!(
                    "unknown affinity {other:?}: use host_label, container_label or container"
                ));
            }
        };
        rules.push(PlacementRule {
            target,
            equal,
            strength,
        });
    }
    Ok(rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_suffixes() {
        let r = affinity_rules("host_label_soft_ne", "a=b, c=d", "s", "web").unwrap();
        assert_eq!(r.len(), 2);
        assert!(!r[0].equal && r[0].strength == Strength::Soft);
        assert_eq!(
            r[1].target,
            RuleTarget::NodeLabel {
                key: "c".into(),
                value: "d".into()
            }
        );
        let r = affinity_rules(
            "container_label_ne",
            "io.rancher.stack_service.name=${stack_name}/${service_name}",
            "s",
            "web",
        )
        .unwrap();
        assert_eq!(
            r[0].target,
            RuleTarget::ContainerLabel {
                key: "io.rancher.stack_service.name".into(),
                value: "s/web".into()
            }
        );
        assert!(!r[0].equal && r[0].strength == Strength::Hard);
        let r = affinity_rules("container_soft", "db-1", "s", "web").unwrap();
        assert_eq!(
            r[0].target,
            RuleTarget::Instance {
                name: "db-1".into()
            }
        );
        assert!(affinity_rules("host_label", "nolabel", "s", "w").is_err());
        assert!(affinity_rules("moon_phase", "x=y", "s", "w").is_err());
    }
}
