//! Rancher sidekicks: services named by `io.rancher.sidekicks` on a primary
//! become containers of the primary's instances.

use std::collections::BTreeMap;

use corral_types::{ServiceSpec, Sidekick};

use crate::ctx::Ctx;
use crate::error::ComposeError;
use crate::load::finish;
use crate::rancher;
use crate::service::Raw;

pub(crate) fn fold(
    ctx: &mut Ctx,
    stack: &str,
    mut raws: Vec<Raw>,
) -> Result<BTreeMap<String, ServiceSpec>, ComposeError> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for raw in raws.iter_mut() {
        let names = rancher::apply_labels(ctx, raw, stack)?;
        if !names.is_empty() {
            groups.push((raw.name.clone(), names));
        }
    }
    // sidekick name -> its primary
    let mut owner: BTreeMap<String, String> = BTreeMap::new();
    for (primary, names) in &groups {
        let Some(p) = raws.iter().find(|r| &r.name == primary) else {
            continue;
        };
        let key = format!("services.{primary}.labels.io.rancher.sidekicks");
        let pos = p
            .label_pos
            .iter()
            .find(|(k, _)| k.ends_with(".sidekicks"))
            .map_or(p.pos, |(_, pos)| *pos);
        for n in names {
            let fail = |m: String| ctx.err(ComposeError::ResolveReference, pos, &key, m);
            if n == primary || !raws.iter().any(|r| &r.name == n) {
                return Err(fail(format!(
                    "sidekick {n:?} is not another service of this stack"
                )));
            }
            if let Some(other) = owner.insert(n.clone(), primary.clone()) {
                return Err(fail(format!("{n:?} is already a sidekick of {other:?}")));
            }
            if groups.iter().any(|(p, _)| p == n) {
                return Err(fail(format!("sidekick {n:?} has sidekicks of its own")));
            }
        }
    }
    for raw in raws.iter() {
        finish(ctx, stack, raw, &mut raw.spec.clone())?;
        shared_network(ctx, raw, &owner)?;
    }
    let mut by_name: BTreeMap<String, Raw> =
        raws.into_iter().map(|r| (r.name.clone(), r)).collect();
    let mut services = BTreeMap::new();
    for (primary, names) in &groups {
        let mut kicks = Vec::new();
        for n in names {
            if let Some(raw) = by_name.remove(n) {
                kicks.push(to_sidekick(ctx, raw, primary, names)?);
            }
        }
        if let Some(mut raw) = by_name.remove(primary) {
            raw.spec.sidekicks = kicks;
            services.insert(primary.clone(), primary_spec(ctx, stack, raw)?);
        }
    }
    for (name, raw) in by_name {
        services.insert(name, primary_spec(ctx, stack, raw)?);
    }
    Ok(services)
}

/// `net: container:X` is what sidekicks do anyway; between services it is not supported.
fn shared_network(
    ctx: &mut Ctx,
    raw: &Raw,
    owner: &BTreeMap<String, String>,
) -> Result<(), ComposeError> {
    let Some((target, pos, key)) = &raw.net_from else {
        return Ok(());
    };
    let group_of = |n: &str| owner.get(n).cloned().unwrap_or_else(|| n.to_string());
    if group_of(&raw.name) == group_of(target)
        && owner.contains_key(&raw.name) != owner.contains_key(target)
        || (owner.contains_key(&raw.name)
            && owner.contains_key(target)
            && group_of(&raw.name) == group_of(target))
    {
        ctx.ignored(
            *pos,
            key,
            "sidekicks share the network namespace of their instance",
        );
        return Ok(());
    }
    let msg = format!(
        "sharing the network namespace of {target:?} is only supported within a sidekick group"
    );
    Err(ctx.unsupported(*pos, key, msg))
}

fn primary_spec(ctx: &Ctx, stack: &str, mut raw: Raw) -> Result<ServiceSpec, ComposeError> {
    if let Some((_, pos)) = raw.volumes_from.as_ref().filter(|(v, _)| !v.is_empty()) {
        let key = format!("services.{}.volumes_from", raw.name);
        let msg = "volumes_from is only supported from a sidekick to its primary or another sidekick of the same service";
        return Err(ctx.unsupported(*pos, &key, msg));
    }
    let mut spec = std::mem::take(&mut raw.spec);
    finish(ctx, stack, &raw, &mut spec)?;
    Ok(spec)
}

fn to_sidekick(
    ctx: &mut Ctx,
    raw: Raw,
    primary: &str,
    group: &[String],
) -> Result<Sidekick, ComposeError> {
    let mut volumes_from = Vec::new();
    if let Some((names, pos)) = &raw.volumes_from {
        for n in names {
            // `service:name` and `name:ro` forms: the service name is what counts.
            let base = n.trim_start_matches("service:");
            let base = base.split(':').next().unwrap_or(base);
            if base == primary {
                volumes_from.push(String::new());
            } else if group.iter().any(|g| g == base) && base != raw.name {
                volumes_from.push(base.to_string());
            } else {
                let key = format!("services.{}.volumes_from", raw.name);
                let msg = format!(
                    "{n:?} is neither the primary {primary:?} nor another of its sidekicks"
                );
                return Err(ctx.unsupported(*pos, &key, msg));
            }
        }
    }
    warn_lost(ctx, &raw);
    let s = raw.spec;
    Ok(Sidekick {
        name: raw.name,
        image: s.image,
        command: s.command,
        entrypoint: s.entrypoint,
        env: s.env,
        volumes: s.volumes,
        volumes_from,
        container_labels: s.container_labels,
        ports: s.ports,
        working_dir: s.working_dir,
        user: s.user,
        privileged: s.privileged,
        limits: s.limits,
    })
}

/// Warns about the settings of a sidekick service that a sidekick cannot carry.
fn warn_lost(ctx: &mut Ctx, raw: &Raw) {
    let s = &raw.spec;
    let d = ServiceSpec::default();
    let lost = [
        ("restart", s.restart != d.restart || s.job.is_some()),
        ("scale", s.scale != 1),
        ("health_check", s.health_check.is_some()),
        ("hostname", !s.hostname.is_empty()),
        ("cap_add", !s.cap_add.is_empty() || !s.cap_drop.is_empty()),
        ("links", !s.links.is_empty()),
        ("depends_on", !s.depends_on.is_empty()),
        ("networks", !s.networks.is_empty()),
        ("ulimits", !s.ulimits.is_empty()),
        (
            "stop_grace_period",
            s.stop_grace_period_ms.is_some() || !s.stop_signal.is_empty(),
        ),
        ("resources", s.resources != d.resources),
        (
            "deploy",
            s.mode != d.mode || s.update != d.update || s.placement != d.placement,
        ),
    ];
    let names: Vec<&str> = lost.iter().filter(|(_, l)| *l).map(|(n, _)| *n).collect();
    if !names.is_empty() {
        let key = format!("services.{}", raw.name);
        let msg = format!("ignored for a sidekick: {}", names.join(", "));
        ctx.warn(raw.pos, &key, msg);
    }
}
