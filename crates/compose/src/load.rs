//! The whole load: classify and parse the files, interpolate, merge, read
//! the top level, map every service, fold sidekicks, validate.

use std::collections::{BTreeMap, BTreeSet};

use corral_types::{MountKind, ServiceMode, ServiceSpec, SourceFile};

use crate::Loaded;
use crate::ctx::{Ctx, join};
use crate::error::ComposeError;
use crate::files::{self, Section};
use crate::interpolate::interpolate_tree;
use crate::rancher::{self, RANCHER_KEYS};
use crate::service::{Raw, Scope, service};
use crate::value::{Entry, Kind, Node, Pos};
use crate::{merge, sidekick, yaml};

/// Most services one stack may have (sidekicks counted as services).
pub(crate) const MAX_SERVICES: usize = 1_000;
/// Most instances one stack may ask for: the sum of the scales of its
/// replicated services (a global service runs one per node and is not
/// counted).
pub(crate) const MAX_INSTANCES: u64 = 10_000;

pub(crate) fn load(
    stack: &str,
    files: &[SourceFile],
    variables: &BTreeMap<String, String>,
) -> Result<Loaded, ComposeError> {
    let mut ctx = Ctx::new(files.iter().map(|f| f.name.clone()).collect());
    let mut compose: Option<Node> = None;
    let mut overlays = Vec::new();
    let mut data = BTreeMap::new();
    for (i, f) in files.iter().enumerate() {
        let yaml_name = f.name.ends_with(".yml") || f.name.ends_with(".yaml");
        if i > 0 && !yaml_name && !f.name.contains("rancher-compose") {
            data.insert(f.name.clone(), f.content.clone());
            continue;
        }
        let at = Pos { file: i, line: 0 };
        let Some(mut node) = yaml::parse(&mut ctx, i, &f.content)? else {
            if i == 0 {
                return Err(ctx.invalid(at, "services", "the compose file is empty"));
            }
            continue;
        };
        interpolate_tree(&mut ctx, &mut node, "", variables)?;
        if i > 0 && (f.name.contains("rancher-compose") || rancher_only(&node)) {
            overlays.push(node);
        } else {
            compose = Some(match compose {
                None => node,
                Some(base) => merge::merge(base, node),
            });
        }
    }
    let Some(root) = compose else {
        let at = Pos { file: 0, line: 0 };
        return Err(ctx.invalid(at, "files", "no compose file was given"));
    };
    build(&mut ctx, stack, &root, &overlays, variables, &data)
}

/// Top-level sections of a compose file, as (key, entry) pairs.
struct Top<'a> {
    services: Vec<&'a Entry>,
    volumes: BTreeSet<String>,
    networks: BTreeSet<String>,
    secrets: BTreeMap<String, crate::StackSecret>,
    configs: BTreeMap<String, crate::StackConfig>,
    /// False for version 1 files (services at the top, nothing declared).
    declared: bool,
}

fn top_level<'a>(ctx: &mut Ctx, stack: &str, root: &'a Node) -> Result<Top<'a>, ComposeError> {
    let entries = root.map(ctx, "")?;
    let mut top = Top {
        services: Vec::new(),
        volumes: BTreeSet::new(),
        networks: BTreeSet::new(),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
        declared: true,
    };
    if root.get("services").is_none() && root.get("version").is_none() {
        top.declared = false;
        top.services = entries
            .iter()
            .filter(|e| !e.key.starts_with("x-"))
            .collect();
        return Ok(top);
    }
    for e in entries {
        match e.key.as_str() {
            "version" => {
                let v = e.value.str(ctx, "version")?;
                if !(v.starts_with('2') || v.starts_with('3')) {
                    let msg = format!("{v:?}: versions 2.x and 3.x, or no version, are supported");
                    return Err(ctx.unsupported(e.value.pos, "version", msg));
                }
            }
            "services" => top.services = e.value.map(ctx, "services")?.iter().collect(),
            "volumes" => top.volumes = declarations(ctx, &e.value, "volumes")?,
            "networks" => top.networks = declarations(ctx, &e.value, "networks")?,
            "name" => ctx.ignored(e.pos, "name", "the stack is named when it is deployed"),
            "secrets" => top.secrets = files::declarations(ctx, stack, &e.value, Section::Secrets)?,
            "configs" => top.configs = files::declarations(ctx, stack, &e.value, Section::Configs)?,
            "include" | "models" => {
                return Err(ctx.unsupported(e.pos, &e.key, "not supported by corral yet"));
            }
            k if k.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &e.key)),
        }
    }
    Ok(top)
}

/// Names under top-level `volumes:` or `networks:`; options are read and
/// mostly ignored.
fn declarations(ctx: &mut Ctx, v: &Node, section: &str) -> Result<BTreeSet<String>, ComposeError> {
    let mut names = BTreeSet::new();
    for e in v.map(ctx, section)? {
        let key = join(section, &e.key);
        for o in e.value.map(ctx, &key)? {
            let ok = join(&key, &o.key);
            match o.key.as_str() {
                "driver" | "labels" | "attachable" | "name" => {}
                "external" | "driver_opts" | "ipam" | "internal" | "enable_ipv6"
                | "enable_ipv4" | "per_container" => {
                    ctx.ignored(o.pos, &ok, "corral manages volumes and networks itself")
                }
                k if k.starts_with("x-") => {}
                _ => return Err(ctx.unknown(o.pos, &ok)),
            }
        }
        names.insert(e.key.clone());
    }
    Ok(names)
}

/// A second YAML file that holds nothing but Rancher keys is an overlay.
fn rancher_only(node: &Node) -> bool {
    let Kind::Map(entries) = &node.kind else {
        return false;
    };
    let services: Vec<&Entry> = match node.get("services") {
        Some(s) => match &s.value.kind {
            Kind::Map(m) => m.iter().collect(),
            _ => return false,
        },
        None => entries
            .iter()
            .filter(|e| !matches!(e.key.as_str(), "version" | ".catalog" | "catalog"))
            .collect(),
    };
    !services.is_empty()
        && services.iter().all(|s| match &s.value.kind {
            Kind::Map(m) => m.iter().all(|k| RANCHER_KEYS.contains(&k.key.as_str())),
            _ => false,
        })
}

/// Service entries of a rancher-compose file, by name.
fn overlay_services<'a>(ctx: &mut Ctx, node: &'a Node) -> Result<Vec<&'a Entry>, ComposeError> {
    let mut out = Vec::new();
    for e in node.map(ctx, "")? {
        match e.key.as_str() {
            "version" => {}
            // Catalog metadata: read by the catalog (`catalog_meta`).
            ".catalog" | "catalog" => {}
            "services" => out.extend(e.value.map(ctx, "services")?.iter()),
            k if k.starts_with("x-") => {}
            _ if node.get("services").is_none() => out.push(e),
            _ => return Err(ctx.unknown(e.pos, &e.key)),
        }
    }
    Ok(out)
}

fn build(
    ctx: &mut Ctx,
    stack: &str,
    root: &Node,
    overlays: &[Node],
    vars: &BTreeMap<String, String>,
    data: &BTreeMap<String, String>,
) -> Result<Loaded, ComposeError> {
    let top = top_level(ctx, stack, root)?;
    if let Some(e) = top.services.get(MAX_SERVICES) {
        let msg = format!(
            "{} services: a stack may have at most {MAX_SERVICES}",
            top.services.len()
        );
        return Err(ctx.err(ComposeError::ExceedLimit, e.pos, "services", msg));
    }
    let scope = Scope {
        secrets: &top.secrets,
        configs: &top.configs,
        volumes: top.declared.then_some(&top.volumes),
        networks: top.declared.then_some(&top.networks),
        vars,
        data,
    };
    let mut raws: Vec<Raw> = Vec::new();
    for e in &top.services {
        raws.push(service(ctx, &e.key, e.pos, &e.value, &scope)?);
    }
    for o in overlays {
        for e in overlay_services(ctx, o)? {
            let key = join("services", &e.key);
            match raws.iter_mut().find(|r| r.name == e.key) {
                Some(raw) => rancher::overlay(ctx, raw, &e.value, &key)?,
                None => ctx.ignored(e.pos, &key, "no such service in the docker-compose file"),
            }
        }
    }
    crate::names::lower_case(ctx, &mut raws)?;
    crate::lb::prepare(ctx, &mut raws)?;
    check_references(ctx, &raws)?;
    let lines: BTreeMap<String, Pos> = raws.iter().map(|r| (r.name.clone(), r.pos)).collect();
    let services = sidekick::fold(ctx, stack, raws)?;
    check_instances(ctx, &services, &lines)?;
    let mut volumes = top.volumes.clone();
    for spec in services.values() {
        let mounts = spec
            .volumes
            .iter()
            .chain(spec.sidekicks.iter().flat_map(|s| s.volumes.iter()));
        for m in mounts.filter(|m| m.kind == MountKind::Volume && !m.source.is_empty()) {
            volumes.insert(m.source.clone());
        }
    }
    Ok(Loaded {
        services,
        volumes,
        networks: top.networks,
        secrets: top.secrets,
        configs: top.configs,
        warnings: std::mem::take(&mut ctx.warnings),
    })
}

/// The scales of the replicated services add up to at most
/// [`MAX_INSTANCES`]; past it, the error names the service that crosses it.
fn check_instances(
    ctx: &Ctx,
    services: &BTreeMap<String, ServiceSpec>,
    lines: &BTreeMap<String, Pos>,
) -> Result<(), ComposeError> {
    let mut total: u64 = 0;
    for (name, spec) in services {
        if spec.mode == ServiceMode::Global {
            continue;
        }
        total = total.saturating_add(u64::from(spec.scale));
        if total > MAX_INSTANCES {
            let pos = lines.get(name).copied().unwrap_or_default();
            let key = format!("services.{name}");
            let msg = format!(
                "the scales of the stack's services add up to more than \
                 {MAX_INSTANCES} instances, the most a stack may have"
            );
            return Err(ctx.err(ComposeError::ExceedLimit, pos, &key, msg));
        }
    }
    Ok(())
}

/// `depends_on` and `links` must name services of the file.
fn check_references(ctx: &Ctx, raws: &[Raw]) -> Result<(), ComposeError> {
    let names: BTreeSet<&str> = raws.iter().map(|r| r.name.as_str()).collect();
    for r in raws {
        let refs = r
            .spec
            .depends_on
            .iter()
            .map(|d| ("depends_on", &d.service))
            .chain(r.spec.links.iter().map(|l| ("links", &l.service)));
        for (what, target) in refs {
            if !names.contains(target.as_str()) {
                let key = format!("services.{}.{what}", r.name);
                let msg = format!("service {target:?} is not in this stack");
                return Err(ctx.err(ComposeError::ResolveReference, r.pos, &key, msg));
            }
        }
    }
    Ok(())
}

/// Final touches shared by every service: the stack, an update batch of 0
/// meaning "all", a stable rule order, and validation.
pub(crate) fn finish(
    ctx: &Ctx,
    stack: &str,
    raw: &Raw,
    spec: &mut ServiceSpec,
) -> Result<(), ComposeError> {
    spec.stack = stack.to_string();
    for u in [&mut spec.update, &mut spec.rollback] {
        if u.batch_size == 0 {
            u.batch_size = spec.scale.max(1);
        }
    }
    spec.placement.rules.sort_by_cached_key(|r| r.to_string());
    spec.validate().map_err(|e| {
        let field = e.field.strip_prefix("spec.").unwrap_or(&e.field);
        let key = format!("services.{}.{field}", raw.name);
        ctx.err(ComposeError::ValidateService, raw.pos, &key, e.message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: String) -> Result<Loaded, ComposeError> {
        let files = vec![SourceFile {
            name: "docker-compose.yml".into(),
            content: text,
        }];
        load("s", &files, &BTreeMap::new())
    }

    fn services(n: usize, scale: u32) -> String {
        let mut text = String::from("services:\n");
        for i in 0..n {
            text.push_str(&format!("  s{i}:\n    image: a\n    scale: {scale}\n"));
        }
        text
    }

    #[test]
    fn a_stack_of_more_services_than_the_bound_is_refused() {
        assert_eq!(
            load_text(services(MAX_SERVICES, 1)).unwrap().services.len(),
            MAX_SERVICES
        );
        let err = load_text(services(MAX_SERVICES + 1, 1)).unwrap_err();
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        let line = 2 + 3 * MAX_SERVICES;
        assert_eq!(
            err.to_string(),
            format!(
                "docker-compose.yml:{line}: services: {} services: a stack may have at most \
                 {MAX_SERVICES}",
                MAX_SERVICES + 1
            )
        );
    }

    #[test]
    fn a_stack_asking_for_more_instances_than_the_bound_is_refused() {
        let per = u32::try_from(MAX_INSTANCES / 4).unwrap();
        assert!(load_text(services(4, per)).is_ok());
        let err = load_text(services(5, per)).unwrap_err();
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "docker-compose.yml:14: services.s4: the scales of the stack's services \
                 add up to more than {MAX_INSTANCES} instances, the most a stack may have"
            )
        );
        let global = "  g:\n    image: a\n    deploy:\n      mode: global\n";
        assert!(load_text(services(4, per) + global).is_ok());
    }
}
