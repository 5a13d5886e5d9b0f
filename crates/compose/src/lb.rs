//! Load balancers: Rancher's rancher-compose `lb_config`, Corral's
//! `io.corral.lb.*` labels, and `image: rancher/lb-service-haproxy`
//! services, all to a `ServiceSpec` with `lb` set (no image is run).

use std::collections::BTreeSet;

use corral_types::{LbConfig, LbProtocol, PortRule, Stickiness, ValidationError};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::service::Raw;
use crate::value::{Node, Pos};

/// Rancher's load balancer image: a service running it is a load balancer.
pub(crate) const RANCHER_LB_IMAGE: &str = "rancher/lb-service-haproxy";
const LABEL_PREFIX: &str = "io.corral.lb.";

/// Where a service's load balancer config was written, for messages.
pub(crate) struct LbSource {
    pub pos: Pos,
    /// `services.lb.lb_config` or `services.lb.labels`.
    pub key: String,
    /// Where each port rule was written, and its key.
    pub rules: Vec<(Pos, String)>,
    /// True for the rancher-compose form (fields keep Rancher's names).
    pub rancher: bool,
}

fn is_rancher_lb_image(image: &str) -> bool {
    let name = image.split(':').next().unwrap_or(image);
    name == RANCHER_LB_IMAGE || name.ends_with(&format!("/{RANCHER_LB_IMAGE}"))
}

/// Reads rancher-compose `lb_config`.
pub(crate) fn rancher(
    ctx: &mut Ctx,
    raw: &mut Raw,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    let mut lb = LbConfig::default();
    let mut rules = Vec::new();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        match e.key.as_str() {
            "port_rules" => {
                for (i, item) in val.seq(ctx, &k)?.iter().enumerate() {
                    let ik = index(&k, i);
                    lb.port_rules.push(rancher_rule(ctx, item, &ik)?);
                    rules.push((item.pos, ik));
                }
            }
            "certs" => lb.certificates = val.strings(ctx, &k)?,
            "default_cert" => {
                lb.default_certificate = val.opt_str(ctx, &k)?.unwrap_or_default().to_string()
            }
            "stickiness_policy" => lb.stickiness = stickiness(ctx, val, &k)?,
            "config" => ctx.ignored(e.pos, &k, "custom haproxy configuration is not supported"),
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    raw.spec.lb = Some(lb);
    raw.lb_source = Some(LbSource {
        pos: v.pos,
        key: key.to_string(),
        rules,
        rancher: true,
    });
    Ok(())
}

fn port(ctx: &Ctx, v: &Node, key: &str) -> Result<u16, ComposeError> {
    let n = v.u64(ctx, key)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(ctx.invalid(v.pos, key, format!("{n} is not a port from 1 to 65535"))),
    }
}

fn protocol(ctx: &mut Ctx, v: &Node, key: &str) -> Result<LbProtocol, ComposeError> {
    let s = v.str(ctx, key)?;
    match s.to_ascii_lowercase().as_str() {
        "sni" => {
            ctx.warn(
                v.pos,
                key,
                "sni is served as https (certificates are chosen by SNI)",
            );
            Ok(LbProtocol::Https)
        }
        "udp" => Err(ctx.unsupported(v.pos, key, "udp load balancing is not supported")),
        other => other
            .parse()
            .map_err(|m: String| ctx.invalid(v.pos, key, m)),
    }
}

fn rancher_rule(ctx: &mut Ctx, v: &Node, key: &str) -> Result<PortRule, ComposeError> {
    let mut rule = PortRule::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let val = &e.value;
        let text = |ctx: &Ctx| -> Result<String, ComposeError> {
            Ok(val.opt_str(ctx, &k)?.unwrap_or_default().to_string())
        };
        match e.key.as_str() {
            "source_port" => rule.source_port = port(ctx, val, &k)?,
            "target_port" => rule.target_port = port(ctx, val, &k)?,
            "protocol" => rule.protocol = protocol(ctx, val, &k)?,
            "hostname" => rule.hostname = text(ctx)?,
            "path" => rule.path = text(ctx)?,
            "priority" => rule.priority = val.u32(ctx, &k)?,
            "service" => rule.target_service = text(ctx)?,
            "backend_name" => rule.backend_name = text(ctx)?,
            "selector" | "container" | "environment" | "region" => {
                let msg = "only rules targeting a service are supported";
                return Err(ctx.unsupported(e.pos, &k, msg));
            }
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    if rule.source_port == 0 {
        return Err(ctx.invalid(v.pos, key, "source_port is required"));
    }
    if rule.target_service.is_empty() {
        return Err(ctx.invalid(v.pos, key, "service is required"));
    }
    Ok(rule)
}

fn stickiness(ctx: &mut Ctx, v: &Node, key: &str) -> Result<Option<Stickiness>, ComposeError> {
    let mut s = Stickiness::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "cookie" => s.cookie = e.value.str(ctx, &k)?.to_string(),
            "domain" => s.domain = e.value.opt_str(ctx, &k)?.unwrap_or_default().to_string(),
            "mode" => match e.value.str(ctx, &k)? {
                "insert" => {}
                other => {
                    let msg = format!("mode {other:?}: only insert is supported");
                    return Err(ctx.unsupported(e.value.pos, &k, msg));
                }
            },
            "name" | "indirect" | "nocache" | "postonly" => ctx.ignored(
                e.pos,
                &k,
                "the cookie is always inserted by the load balancer",
            ),
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(Some(s))
}

/// Reads `io.corral.lb.*` labels (taken out of the container labels).
fn labels(ctx: &mut Ctx, raw: &mut Raw) -> Result<(), ComposeError> {
    let keys: Vec<String> = raw
        .spec
        .container_labels
        .keys()
        .filter(|k| k.starts_with(LABEL_PREFIX))
        .cloned()
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let base = format!("services.{}.labels", raw.name);
    let first_pos = keys
        .iter()
        .filter_map(|k| raw.label_pos.get(k))
        .copied()
        .next();
    if let Some(src) = &raw.lb_source {
        let msg = "give the load balancer either lb_config or io.corral.lb labels, not both";
        return Err(ctx.invalid(src.pos, &src.key, msg));
    }
    let mut lb = LbConfig::default();
    let mut rules = Vec::new();
    for label in keys {
        let value = raw.spec.container_labels.remove(&label).unwrap_or_default();
        let pos = raw.label_pos.get(&label).copied().unwrap_or(raw.pos);
        let key = join(&base, &label);
        let name = label.trim_start_matches(LABEL_PREFIX);
        match name {
            "certs" => lb.certificates = split_list(&value),
            "default_cert" => lb.default_certificate = value.trim().to_string(),
            "sticky_cookie" => {
                lb.stickiness.get_or_insert_with(Stickiness::default).cookie =
                    value.trim().to_string()
            }
            "sticky_domain" => {
                lb.stickiness.get_or_insert_with(Stickiness::default).domain =
                    value.trim().to_string()
            }
            n if n.starts_with("rule.") && n.len() > 5 => {
                lb.port_rules
                    .push(PortRule::parse(&value).map_err(|m| ctx.invalid(pos, &key, m))?);
                rules.push((pos, key));
            }
            _ => return Err(ctx.unknown(pos, &key)),
        }
    }
    raw.spec.lb = Some(lb);
    let pos = first_pos.unwrap_or(raw.pos);
    raw.lb_source = Some(LbSource {
        pos,
        key: join(&base, "io.corral.lb"),
        rules,
        rancher: false,
    });
    Ok(())
}

fn split_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Makes every load balancer of the file a proper one: config from labels,
/// no image or health check, ports from the rules, targets that exist.
pub(crate) fn prepare(ctx: &mut Ctx, raws: &mut [Raw]) -> Result<(), ComposeError> {
    let names: BTreeSet<String> = raws.iter().map(|r| r.name.clone()).collect();
    for raw in raws.iter_mut() {
        crate::lb_legacy::translate(ctx, raw)?;
        labels(ctx, raw)?;
        let rancher_image =
            is_rancher_lb_image(&raw.spec.image) || crate::lb_legacy::is_image(&raw.spec.image);
        if raw.spec.lb.is_none() {
            if rancher_image {
                let key = format!("services.{}.image", raw.name);
                let msg = format!(
                    "{RANCHER_LB_IMAGE} is a load balancer: give its lb_config in rancher-compose.yml or io.corral.lb.rule labels"
                );
                return Err(ctx.invalid(raw.pos, &key, msg));
            }
            continue;
        }
        let path = format!("services.{}", raw.name);
        if !raw.spec.image.is_empty() && !rancher_image {
            ctx.ignored(
                raw.pos,
                &join(&path, "image"),
                "a load balancer runs in the agent, not in a container",
            );
        }
        raw.spec.image.clear();
        if raw.spec.health_check.take().is_some() {
            ctx.ignored(
                raw.pos,
                &join(&path, "health_check"),
                "the agent checks its load balancers itself",
            );
        }
        publish(ctx, raw);
        check(ctx, raw, &names)?;
    }
    Ok(())
}

/// `ports: ["8080:80"]` with a rule on source port 80 listens on 8080 (as
/// Rancher publishes it); then the ports are the rules' source ports.
fn publish(ctx: &mut Ctx, raw: &mut Raw) {
    let Some(lb) = raw.spec.lb.as_mut() else {
        return;
    };
    let original: Vec<u16> = lb.port_rules.iter().map(|r| r.source_port).collect();
    for p in raw.spec.ports.iter().filter(|p| p.host_port != 0) {
        let mut used = false;
        for (rule, source) in lb.port_rules.iter_mut().zip(&original) {
            if *source == p.container_port {
                rule.source_port = p.host_port;
                used = true;
            }
        }
        if !used {
            let key = format!("services.{}.ports", raw.name);
            ctx.ignored(
                raw.pos,
                &key,
                &format!("{p}: no port rule has source port {}", p.container_port),
            );
        }
    }
    raw.spec.ports = lb.port_specs();
}

/// Validates the config and checks that targets in this stack exist.
fn check(ctx: &Ctx, raw: &Raw, names: &BTreeSet<String>) -> Result<(), ComposeError> {
    let (Some(lb), Some(src)) = (&raw.spec.lb, &raw.lb_source) else {
        return Ok(());
    };
    if let Err(e) = lb.validate() {
        let (pos, key) = locate(src, &e);
        return Err(ctx.invalid(pos, &key, e.message));
    }
    for (i, rule) in lb.port_rules.iter().enumerate() {
        if rule.target_service.contains('/') || names.contains(&rule.target_service) {
            continue;
        }
        let (pos, key) = locate(
            src,
            &ValidationError::new(format!("port_rules[{i}].target_service"), ""),
        );
        let msg = format!(
            "service {:?} is not in this stack (another stack's is written STACK/SERVICE)",
            rule.target_service
        );
        return Err(ctx.err(ComposeError::ResolveReference, pos, &key, msg));
    }
    Ok(())
}

/// The place and key of a field of the config, with Rancher's names in
/// the rancher-compose form.
fn locate(src: &LbSource, e: &ValidationError) -> (Pos, String) {
    let rule = e
        .field
        .strip_prefix("port_rules[")
        .and_then(|r| r.split_once(']'))
        .and_then(|(i, rest)| Some((i.parse::<usize>().ok()?, rest.trim_start_matches('.'))));
    if let Some(((pos, key), field)) = rule.and_then(|(i, f)| Some((src.rules.get(i)?, f))) {
        if !src.rancher || field.is_empty() {
            return (*pos, key.clone());
        }
        let field = if field == "target_service" {
            "service"
        } else {
            field
        };
        return (*pos, join(key, field));
    }
    let field = if src.rancher {
        e.field
            .replace("default_certificate", "default_cert")
            .replace("certificates", "certs")
            .replace("stickiness", "stickiness_policy")
    } else {
        e.field.clone()
    };
    (src.pos, join(&src.key, &field))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rancher_image_is_recognised_with_a_tag_or_registry() {
        assert!(is_rancher_lb_image("rancher/lb-service-haproxy:v0.7.9"));
        assert!(is_rancher_lb_image("docker.io/rancher/lb-service-haproxy"));
        assert!(!is_rancher_lb_image("haproxy:2"));
    }
}
