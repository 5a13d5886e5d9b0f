//! Service names with capitals (`Minecraft`, `CMSMysql`). Rancher kept them
//! as written; Corral's names are DNS labels, which are lower case (and DNS
//! compares names without case, so `Minecraft` still resolves). Such a
//! service is renamed to its lower-case name with a warning, and every
//! reference to it is rewritten: links, depends_on, volumes_from,
//! `net: container:`, sidekick labels, affinity labels naming it, load
//! balancer targets.

use std::collections::BTreeMap;

use corral_types::LbConfig;

use crate::ctx::Ctx;
use crate::error::ComposeError;
use crate::service::Raw;

const SIDEKICK_LABELS: [&str; 2] = ["io.rancher.sidekicks", "io.corral.sidekicks"];
const LEGACY_TARGET: &str = "io.rancher.loadbalancer.target.";

/// Lower-cases the services' names and the references to them; two names
/// that differ only in case are an error naming the second.
pub(crate) fn lower_case(ctx: &mut Ctx, raws: &mut [Raw]) -> Result<(), ComposeError> {
    let renamed: BTreeMap<String, String> = raws
        .iter()
        .filter(|r| r.name.bytes().any(|b| b.is_ascii_uppercase()))
        .map(|r| (r.name.clone(), r.name.to_ascii_lowercase()))
        .collect();
    if renamed.is_empty() {
        return Ok(());
    }
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for r in raws.iter() {
        if let Some(other) = seen.insert(r.name.to_ascii_lowercase(), &r.name) {
            let key = format!("services.{}", r.name);
            let msg = format!(
                "{:?} and {other:?} differ only in case: service names are DNS names, \
                 compared without case",
                r.name
            );
            return Err(ctx.invalid(r.pos, &key, msg));
        }
    }
    for r in raws.iter_mut() {
        rewrite(r, &renamed);
        if let Some(new) = renamed.get(&r.name) {
            let key = format!("services.{}", r.name);
            let msg = format!(
                "renamed {new:?}: service names are lower-case DNS names (references to it \
                 are rewritten; DNS lookups of {:?} still find it)",
                r.name
            );
            ctx.warn(r.pos, &key, msg);
            r.name = new.clone();
        }
    }
    Ok(())
}

fn fix(s: &mut String, renamed: &BTreeMap<String, String>) {
    if let Some(new) = renamed.get(s.as_str()) {
        *s = new.clone();
    }
}

/// `a`, `a:ro`, `service:a`: the service part renamed; `container:x` kept.
fn fix_volumes_from(entry: &mut String, renamed: &BTreeMap<String, String>) {
    if entry.starts_with("container:") {
        return;
    }
    let (prefix, rest) = match entry.strip_prefix("service:") {
        Some(rest) => ("service:", rest),
        None => ("", entry.as_str()),
    };
    let (name, mode) = match rest.split_once(':') {
        Some((n, m)) => (n, format!(":{m}")),
        None => (rest, String::new()),
    };
    if let Some(new) = renamed.get(name) {
        *entry = format!("{prefix}{new}{mode}");
    }
}

fn rewrite(r: &mut Raw, renamed: &BTreeMap<String, String>) {
    for d in &mut r.spec.depends_on {
        fix(&mut d.service, renamed);
    }
    for l in &mut r.spec.links {
        fix(&mut l.service, renamed);
    }
    if let Some((entries, _)) = &mut r.volumes_from {
        for e in entries.iter_mut() {
            fix_volumes_from(e, renamed);
        }
    }
    if let Some((target, _, _)) = &mut r.net_from {
        fix(target, renamed);
    }
    if let Some(LbConfig { port_rules, .. }) = &mut r.spec.lb {
        for rule in port_rules {
            fix(&mut rule.target_service, renamed);
        }
    }
    for label in SIDEKICK_LABELS {
        if let Some(v) = r.spec.container_labels.get_mut(label) {
            let names: Vec<String> = v
                .split(',')
                .map(|n| {
                    let mut n = n.trim().to_string();
                    fix(&mut n, renamed);
                    n
                })
                .collect();
            *v = names.join(",");
        }
    }
    for (label, value) in r.spec.container_labels.iter_mut() {
        if label.contains(".scheduler.affinity:") {
            *value = affinity_value(value, renamed);
        }
    }
    let targets: Vec<String> = r
        .spec
        .container_labels
        .keys()
        .filter(|k| {
            k.strip_prefix(LEGACY_TARGET)
                .is_some_and(|s| renamed.contains_key(s))
        })
        .cloned()
        .collect();
    for old in targets {
        let service = old.trim_start_matches(LEGACY_TARGET);
        let new = format!("{LEGACY_TARGET}{}", service.to_ascii_lowercase());
        if let Some(v) = r.spec.container_labels.remove(&old) {
            r.spec.container_labels.insert(new.clone(), v);
        }
        if let Some(p) = r.label_pos.remove(&old) {
            r.label_pos.insert(new, p);
        }
    }
}

/// `io.rancher.stack_service.name=${stack_name}/Minecraft` and the like:
/// a value naming a renamed service (alone or after `/`) is rewritten.
fn affinity_value(value: &str, renamed: &BTreeMap<String, String>) -> String {
    let items: Vec<String> = value
        .split(',')
        .map(|item| {
            let (key, v) = match item.split_once('=') {
                Some((k, v)) => (format!("{k}="), v),
                None => (String::new(), item),
            };
            let (prefix, name) = match v.rsplit_once('/') {
                Some((p, n)) => (format!("{p}/"), n),
                None => (String::new(), v),
            };
            match renamed.get(name.trim()) {
                Some(new) => format!("{key}{prefix}{new}"),
                None => item.to_string(),
            }
        })
        .collect();
    items.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_values_naming_a_renamed_service_are_rewritten() {
        let map = BTreeMap::from([("Db".to_string(), "db".to_string())]);
        assert_eq!(
            affinity_value("io.rancher.stack_service.name=${stack_name}/Db,a=b", &map),
            "io.rancher.stack_service.name=${stack_name}/db,a=b"
        );
        assert_eq!(affinity_value("Db", &map), "db");
        assert_eq!(affinity_value("x=Dbz", &map), "x=Dbz");
    }

    #[test]
    fn volumes_from_entries_keep_their_mode_and_container_form() {
        let map = BTreeMap::from([("Data".to_string(), "data".to_string())]);
        for (before, after) in [
            ("Data", "data"),
            ("Data:ro", "data:ro"),
            ("service:Data:rw", "service:data:rw"),
            ("container:Data", "container:Data"),
            ("Other", "Other"),
        ] {
            let mut e = before.to_string();
            fix_volumes_from(&mut e, &map);
            assert_eq!(e, after);
        }
    }
}
