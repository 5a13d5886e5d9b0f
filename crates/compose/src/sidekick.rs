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
        let Some(mut raw) = by_name.remove(primary) else {
            continue;
        };
        let data = data_sidekicks(ctx, &mut raw, names)?;
        let group = Group {
            primary,
            names,
            data: &data,
        };
        let mut kicks = Vec::new();
        for n in names {
            if let Some(kick) = by_name.remove(n) {
                kicks.push(to_sidekick(ctx, kick, &group)?);
            }
        }
        raw.spec.sidekicks = kicks;
        raw.spec.volumes_from = data;
        services.insert(primary.clone(), primary_spec(ctx, stack, raw)?);
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

/// A primary and its sidekicks.
struct Group<'a> {
    primary: &'a str,
    names: &'a [String],
    /// The sidekicks the primary's `volumes_from` names.
    data: &'a [String],
}

/// `service:name`, `name:ro` and `container:name` forms: the name, and
/// whether a `container:` prefix or an access mode was given.
fn volumes_from_target(entry: &str) -> (&str, bool, bool) {
    let container = entry.starts_with("container:");
    let rest = entry
        .strip_prefix("service:")
        .or_else(|| entry.strip_prefix("container:"))
        .unwrap_or(entry);
    match rest.split_once(':') {
        Some((name, _mode)) => (name, container, true),
        None => (rest, container, false),
    }
}

/// Takes the primary's `volumes_from`: it may name its own sidekicks only,
/// which become its data sidekicks.
fn data_sidekicks(
    ctx: &mut Ctx,
    raw: &mut Raw,
    names: &[String],
) -> Result<Vec<String>, ComposeError> {
    let Some((entries, pos)) = raw.volumes_from.take() else {
        return Ok(Vec::new());
    };
    let key = format!("services.{}.volumes_from", raw.name);
    let mut data: Vec<String> = Vec::new();
    for entry in &entries {
        let (name, container, mode) = volumes_from_target(entry);
        if container || !names.iter().any(|n| n == name) {
            let msg = format!(
                "{entry:?} is not a sidekick of {:?}: a service mounts the volumes of its own sidekicks only",
                raw.name
            );
            return Err(ctx.unsupported(pos, &key, msg));
        }
        if mode {
            ctx.ignored(
                pos,
                &key,
                "the access mode: the volumes are mounted as declared",
            );
        }
        if !data.iter().any(|d| d == name) {
            data.push(name.to_string());
        }
    }
    Ok(data)
}

fn primary_spec(ctx: &Ctx, stack: &str, mut raw: Raw) -> Result<ServiceSpec, ComposeError> {
    if let Some((_, pos)) = raw.volumes_from.as_ref().filter(|(v, _)| !v.is_empty()) {
        let key = format!("services.{}.volumes_from", raw.name);
        let msg = "volumes_from is only supported between a service and its own sidekicks (io.rancher.sidekicks)";
        return Err(ctx.unsupported(*pos, &key, msg));
    }
    let mut spec = std::mem::take(&mut raw.spec);
    finish(ctx, stack, &raw, &mut spec)?;
    Ok(spec)
}

fn to_sidekick(ctx: &mut Ctx, mut raw: Raw, group: &Group<'_>) -> Result<Sidekick, ComposeError> {
    if let Some(src) = &raw.lb_source {
        let msg = format!(
            "a load balancer cannot be a sidekick of {:?}",
            group.primary
        );
        return Err(ctx.unsupported(src.pos, &src.key, msg));
    }
    for (what, empty) in [
        ("secrets", raw.spec.secrets.is_empty()),
        ("configs", raw.spec.configs.is_empty()),
    ] {
        if !empty {
            let key = format!("services.{}.{what}", raw.name);
            let msg = format!(
                "a sidekick cannot mount {what} yet; mount them on {:?}",
                group.primary
            );
            return Err(ctx.unsupported(raw.pos, &key, msg));
        }
    }
    let is_data = group.data.iter().any(|d| d == &raw.name);
    let mut volumes_from = Vec::new();
    if let Some((entries, pos)) = &raw.volumes_from {
        let key = format!("services.{}.volumes_from", raw.name);
        for n in entries {
            let (base, container, _) = volumes_from_target(n);
            let target = if container {
                None
            } else if base == group.primary {
                Some(String::new())
            } else if group.names.iter().any(|g| g == base) && base != raw.name {
                Some(base.to_string())
            } else {
                None
            };
            let Some(target) = target else {
                let msg = format!(
                    "{n:?} is neither the primary {:?} nor another of its sidekicks",
                    group.primary
                );
                return Err(ctx.unsupported(*pos, &key, msg));
            };
            if is_data && !group.data.contains(&target) {
                let msg = format!(
                    "{n:?}: the primary mounts this sidekick's volumes, so it is created first and can only mount those of the primary's other volumes_from sidekicks"
                );
                return Err(ctx.unsupported(*pos, &key, msg));
            }
            volumes_from.push(target);
        }
    }
    if raw.start_once {
        // Carried by `start_once`, not by a restart policy.
        raw.spec.restart = Default::default();
        raw.spec.job = None;
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
        start_once: raw.start_once,
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
            "pid/ipc/uts",
            s.pid_mode.is_host() || s.ipc_mode.is_host() || s.uts_mode.is_host(),
        ),
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
