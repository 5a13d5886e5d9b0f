//! One docker-compose service to a [`ServiceSpec`]: the key-by-key mapping.

use std::collections::{BTreeMap, BTreeSet};

use corral_types::{
    Dependency, DependencyCondition, Link, NetworkAttachment, RestartPolicy, ServiceSpec, Ulimit,
};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::units::{parse_bytes, parse_cpus, parse_duration_ms, shell_split};
use crate::value::{Entry, Kind, Node, Pos};
use crate::volumes::{Declared, parse_tmpfs, parse_volumes};
use crate::{deploy, health, ports};

/// What a service may refer to, and the data it may read.
pub(crate) struct Scope<'a> {
    pub volumes: Declared<'a>,
    /// Declared networks; `None` for version 1 files.
    pub networks: Option<&'a BTreeSet<String>>,
    pub vars: &'a BTreeMap<String, String>,
    /// Files given by name that are not compose files (env files).
    pub data: &'a BTreeMap<String, String>,
    /// Secrets declared at the top level.
    pub secrets: &'a BTreeMap<String, crate::StackSecret>,
    /// Configs declared at the top level.
    pub configs: &'a BTreeMap<String, crate::StackConfig>,
}

/// A service as read, before sidekicks are folded into their primaries.
pub(crate) struct Raw {
    pub name: String,
    pub pos: Pos,
    pub spec: ServiceSpec,
    /// `volumes_from`, with where it was written.
    pub volumes_from: Option<(Vec<String>, Pos)>,
    /// Where each label is written.
    pub label_pos: BTreeMap<String, Pos>,
    /// `net: container:X` / `network_mode: service:X`: the service X, the
    /// place and the key. Allowed only within a sidekick group.
    pub net_from: Option<(String, Pos, String)>,
    /// `io.rancher.container.start_once` is set: a job, or for a sidekick its
    /// `start_once`.
    pub start_once: bool,
    /// Where the load balancer config (`lb_config` or labels) was written.
    pub lb_source: Option<crate::lb::LbSource>,
    /// Set for a Rancher 1.0-1.5 balancer (`rancher/load-balancer-service`).
    pub legacy_lb: Option<crate::lb_legacy::Legacy>,
}

/// Keys that are read but have no effect in Corral, and why.
fn harmless(key: &str) -> Option<&'static str> {
    Some(match key {
        "container_name" => "corral names containers",
        "pull_policy" => "corral pulls images when an instance is placed",
        "init" | "platform" | "tty" | "stdin_open" | "domainname" | "mac_address" | "shm_size"
        | "oom_score_adj" | "oom_kill_disable" | "cpu_quota" | "cpu_period" | "cpuset"
        | "cpu_count" | "cpu_percent" | "cpu_rt_runtime" | "cpu_rt_period" | "mem_swappiness"
        | "blkio_config" | "read_only" | "security_opt" | "sysctls" | "group_add"
        | "cgroup_parent" | "isolation" | "runtime" | "storage_opt" | "annotations" | "attach"
        | "develop" | "cgroup" => "not supported by corral",
        "logging" | "log_driver" | "log_opt" => "corral collects container logs itself",
        "dns" | "dns_search" | "dns_opt" | "extra_hosts" => "corral provides service discovery",
        "external_links" => "services of other stacks are reached by their DNS names",
        "volume_driver" => "volumes use the node's default driver",
        "memswap_limit" | "cpu_shares" => "only mem_limit and cpus are enforced",
        _ => return None,
    })
}

pub(crate) fn service(
    ctx: &mut Ctx,
    name: &str,
    pos: Pos,
    node: &Node,
    scope: &Scope<'_>,
) -> Result<Raw, ComposeError> {
    let path = join("services", name);
    let mut raw = Raw {
        name: name.to_string(),
        pos,
        spec: ServiceSpec {
            scale: 1,
            ..ServiceSpec::default()
        },
        volumes_from: None,
        label_pos: BTreeMap::new(),
        net_from: None,
        start_once: false,
        lb_source: None,
        legacy_lb: crate::lb_legacy::for_service(node),
    };
    let entries = node.map(ctx, &path)?;
    let mut env_file = BTreeMap::new();
    let mut build = None;
    for e in entries.iter().filter(|e| e.key != "deploy") {
        let key = join(&path, &e.key);
        match e.key.as_str() {
            "ports" | "expose" | "external_links" if raw.legacy_lb.is_some() => {
                if let Some(legacy) = raw.legacy_lb.as_mut() {
                    crate::lb_legacy::read_key(ctx, legacy, e, &key)?;
                }
            }
            "env_file" => env_file = read_env_files(ctx, &e.value, &key, scope.data)?,
            "build" => build = Some(e.pos),
            "volumes_from" => raw.volumes_from = Some((e.value.strings(ctx, &key)?, e.pos)),
            "net" | "network_mode" => {
                let value = e.value.opt_str(ctx, &key)?.unwrap_or_default();
                match value.split_once(':') {
                    Some(("container" | "service", target)) => {
                        raw.net_from = Some((target.to_string(), e.pos, key.clone()));
                    }
                    _ => raw.spec.network_mode = network_mode(ctx, e, &key)?,
                }
            }
            "labels" => {
                for (k, value, at) in pairs(ctx, &e.value, &key)? {
                    raw.label_pos.insert(k.clone(), at);
                    raw.spec
                        .container_labels
                        .insert(k, value.unwrap_or_default());
                }
            }
            _ => key_value(ctx, &mut raw.spec, e, &key, scope)?,
        }
    }
    if let Some(e) = entries.iter().find(|e| e.key == "deploy") {
        deploy::deploy(ctx, &mut raw.spec, &e.value, &join(&path, "deploy"))?;
    }
    for (k, v) in env_file {
        raw.spec.env.entry(k).or_insert(v);
    }
    if let Some(at) = build {
        let key = join(&path, "build");
        if raw.spec.image.is_empty() {
            let msg = "corral never builds images: give an image built and pushed beforehand";
            return Err(ctx.unsupported(at, &key, msg));
        }
        ctx.ignored(at, &key, "corral never builds: the image is used");
    }
    Ok(raw)
}

fn key_value(
    ctx: &mut Ctx,
    spec: &mut ServiceSpec,
    e: &Entry,
    key: &str,
    scope: &Scope<'_>,
) -> Result<(), ComposeError> {
    let v = &e.value;
    match e.key.as_str() {
        "image" => spec.image = v.str(ctx, key)?.to_string(),
        "command" => spec.command = command(ctx, v, key)?,
        "entrypoint" => spec.entrypoint = Some(command(ctx, v, key)?),
        "environment" => spec.env = environment(ctx, v, key, scope.vars)?,
        "ports" => spec.ports.extend(ports::parse_ports(ctx, v, key)?),
        "expose" => spec.ports.extend(ports::parse_expose(ctx, v, key)?),
        "working_dir" => spec.working_dir = v.str(ctx, key)?.to_string(),
        "user" => spec.user = v.str(ctx, key)?.to_string(),
        "hostname" => spec.hostname = v.str(ctx, key)?.to_string(),
        "restart" => spec.restart = restart(ctx, v, key)?,
        "healthcheck" => spec.health_check = health::compose(ctx, v, key)?,
        "depends_on" => spec.depends_on = depends_on(ctx, v, key)?,
        "volumes" => spec
            .volumes
            .extend(parse_volumes(ctx, v, key, scope.volumes)?),
        "tmpfs" => spec.volumes.extend(parse_tmpfs(ctx, v, key)?),
        "cap_add" => spec.cap_add = v.strings(ctx, key)?,
        "cap_drop" => spec.cap_drop = v.strings(ctx, key)?,
        "privileged" => spec.privileged = v.bool(ctx, key)?,
        "mem_limit" => spec.limits.memory_bytes = bytes(ctx, v, key)?,
        "mem_reservation" => spec.resources.memory_bytes = bytes(ctx, v, key)?,
        "cpus" => spec.limits.cpu_millis = cpus(ctx, v, key)?,
        "ulimits" => spec.ulimits = ulimits(ctx, v, key)?,
        "stop_grace_period" => spec.stop_grace_period_ms = Some(duration(ctx, v, key)?),
        "stop_signal" => spec.stop_signal = v.str(ctx, key)?.to_string(),
        "links" => spec.links = links(ctx, v, key)?,
        "networks" => spec.networks = networks(ctx, v, key, scope.networks)?,
        "scale" => spec.scale = v.u32(ctx, key)?,
        "pid" => spec.pid_mode = host_namespace(ctx, e, key)?,
        "ipc" => spec.ipc_mode = host_namespace(ctx, e, key)?,
        "uts" => spec.uts_mode = host_namespace(ctx, e, key)?,
        "net" | "network_mode" | "userns_mode" => namespace(ctx, e, key)?,
        "secrets" => spec.secrets = crate::secrets::mounts(ctx, v, key, scope.secrets)?,
        "configs" => spec.configs = crate::configs::mounts(ctx, v, key, scope.configs)?,
        "profiles"
        | "extends"
        | "devices"
        | "gpus"
        | "credential_spec"
        | "device_cgroup_rules"
        | "models"
        | "provider"
        | "use_api_socket" => {
            return Err(ctx.unsupported(e.pos, key, "not supported by corral yet"));
        }
        k if k.starts_with("x-") => {}
        k => match harmless(k) {
            Some(why) => ctx.ignored(e.pos, key, why),
            None => return Err(ctx.unknown(e.pos, key)),
        },
    }
    Ok(())
}

pub(crate) fn bytes(ctx: &Ctx, v: &Node, key: &str) -> Result<u64, ComposeError> {
    parse_bytes(v.str(ctx, key)?).map_err(|m| ctx.invalid(v.pos, key, m))
}

pub(crate) fn cpus(ctx: &Ctx, v: &Node, key: &str) -> Result<u64, ComposeError> {
    parse_cpus(v.str(ctx, key)?).map_err(|m| ctx.invalid(v.pos, key, m))
}

pub(crate) fn duration(ctx: &Ctx, v: &Node, key: &str) -> Result<u64, ComposeError> {
    parse_duration_ms(v.str(ctx, key)?).map_err(|m| ctx.invalid(v.pos, key, m))
}

/// `net`/`network_mode`/`pid`/`ipc`: sharing the host's or another
/// container's namespace is not supported; the default values are.
/// `net`/`network_mode`: `host` and `bridge` choose those modes; empty
/// or `default` keep the environment's managed network; `none` is ignored
/// (instances always get a network); anything else is unsupported.
fn network_mode(
    ctx: &mut Ctx,
    e: &Entry,
    key: &str,
) -> Result<corral_types::NetworkMode, ComposeError> {
    use corral_types::NetworkMode;
    match e.value.opt_str(ctx, key)?.unwrap_or_default() {
        "host" => Ok(NetworkMode::Host),
        "bridge" => Ok(NetworkMode::Bridge),
        "" | "default" => Ok(NetworkMode::Managed),
        _ => namespace(ctx, e, key).map(|()| NetworkMode::Managed),
    }
}

/// `pid`/`ipc`/`uts`: `host` shares the host's namespace (host access, as
/// `network_mode: host`); the defaults keep the container's own.
fn host_namespace(
    ctx: &mut Ctx,
    e: &Entry,
    key: &str,
) -> Result<corral_types::NamespaceMode, ComposeError> {
    match e.value.opt_str(ctx, key)?.unwrap_or_default() {
        "host" => Ok(corral_types::NamespaceMode::Host),
        _ => namespace(ctx, e, key).map(|()| corral_types::NamespaceMode::Private),
    }
}

fn namespace(ctx: &mut Ctx, e: &Entry, key: &str) -> Result<(), ComposeError> {
    let value = e.value.opt_str(ctx, key)?.unwrap_or_default();
    match value {
        "" | "bridge" | "default" | "private" | "shareable" => {
            ctx.ignored(e.pos, key, "instances get their own namespace");
            Ok(())
        }
        "none" if e.key == "net" || e.key == "network_mode" => {
            ctx.ignored(e.pos, key, "instances always get a network");
            Ok(())
        }
        other => {
            let msg = format!("{other:?} is not supported: instances get their own namespace");
            Err(ctx.unsupported(e.value.pos, key, msg))
        }
    }
}

/// A string is split like a shell would; a list is taken as is.
fn command(ctx: &Ctx, v: &Node, key: &str) -> Result<Vec<String>, ComposeError> {
    match &v.kind {
        Kind::Str(s) => shell_split(s).map_err(|m| ctx.invalid(v.pos, key, m)),
        _ => v.strings(ctx, key),
    }
}

/// `KEY=VALUE` lists or maps; a `KEY` without value takes the variable's value if set.
pub(crate) fn environment(
    ctx: &Ctx,
    v: &Node,
    key: &str,
    vars: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut env = BTreeMap::new();
    for (k, value, _) in pairs(ctx, v, key)? {
        if let Some(value) = value.or_else(|| vars.get(&k).cloned()) {
            env.insert(k, value);
        }
    }
    Ok(env)
}

/// The entries of a `K=V` list or a `K: V` map; `None` for a value not given.
fn pairs(
    ctx: &Ctx,
    v: &Node,
    key: &str,
) -> Result<Vec<(String, Option<String>, Pos)>, ComposeError> {
    let mut out = Vec::new();
    match &v.kind {
        Kind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let s = item.str(ctx, &index(key, i))?;
                match s.split_once('=') {
                    Some((k, val)) => out.push((k.to_string(), Some(val.to_string()), item.pos)),
                    None => out.push((s.to_string(), None, item.pos)),
                }
            }
        }
        _ => {
            for e in v.map(ctx, key)? {
                let value = e.value.opt_str(ctx, &join(key, &e.key))?;
                out.push((e.key.clone(), value.map(str::to_string), e.pos));
            }
        }
    }
    Ok(out)
}

/// `env_file:` names files whose content must be among the given files.
fn read_env_files(
    ctx: &mut Ctx,
    v: &Node,
    key: &str,
    data: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ComposeError> {
    let mut env = BTreeMap::new();
    let items: Vec<(String, bool, Pos)> = match &v.kind {
        Kind::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let k = index(key, i);
                match &item.kind {
                    Kind::Map(_) => {
                        let path = item.get("path").map(|e| e.value.str(ctx, &k)).transpose()?;
                        let required = item
                            .get("required")
                            .map(|e| e.value.bool(ctx, &k))
                            .transpose()?;
                        out.push((
                            path.unwrap_or_default().to_string(),
                            required.unwrap_or(true),
                            item.pos,
                        ));
                    }
                    _ => out.push((item.str(ctx, &k)?.to_string(), true, item.pos)),
                }
            }
            out
        }
        _ => vec![(v.str(ctx, key)?.to_string(), true, v.pos)],
    };
    for (path, required, pos) in items {
        let wanted = path.trim_start_matches("./");
        match data
            .iter()
            .find(|(name, _)| name.trim_start_matches("./") == wanted)
        {
            Some((name, content)) => {
                let vars = crate::envfile::parse_env_file(name, content)?;
                env.extend(vars);
            }
            None if !required => ctx.ignored(
                pos,
                key,
                &format!("optional env file {path:?} was not given"),
            ),
            None => {
                let msg = format!(
                    "env file {path:?} cannot be read by the server: give its content with the compose file"
                );
                return Err(ctx.err(ComposeError::ResolveReference, pos, key, msg));
            }
        }
    }
    Ok(env)
}

fn restart(ctx: &mut Ctx, v: &Node, key: &str) -> Result<RestartPolicy, ComposeError> {
    let s = v.str(ctx, key)?;
    let (policy, max) = s.split_once(':').unwrap_or((s, ""));
    let p = match policy {
        "no" | "never" | "none" => RestartPolicy::Never,
        "always" | "unless-stopped" | "any" => RestartPolicy::Always,
        "on-failure" => RestartPolicy::OnFailure,
        other => {
            let msg = format!("{other:?} is not one of no, always, on-failure, unless-stopped");
            return Err(ctx.invalid(v.pos, key, msg));
        }
    };
    if !max.is_empty() {
        ctx.ignored(
            v.pos,
            key,
            &format!("the retry count {max} (use deploy.restart_policy.max_attempts)"),
        );
    }
    Ok(p)
}

fn depends_on(ctx: &Ctx, v: &Node, key: &str) -> Result<Vec<Dependency>, ComposeError> {
    if let Kind::Seq(_) = v.kind {
        return Ok(v
            .strings(ctx, key)?
            .into_iter()
            .map(|service| Dependency {
                service,
                condition: DependencyCondition::ServiceStarted,
            })
            .collect());
    }
    let mut out = Vec::new();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let mut condition = DependencyCondition::ServiceStarted;
        for c in e.value.map(ctx, &k)? {
            let ck = join(&k, &c.key);
            match c.key.as_str() {
                "condition" => {
                    condition = match c.value.str(ctx, &ck)? {
                        "service_started" => DependencyCondition::ServiceStarted,
                        "service_healthy" => DependencyCondition::ServiceHealthy,
                        "service_completed_successfully" => {
                            DependencyCondition::ServiceCompletedSuccessfully
                        }
                        other => {
                            return Err(ctx.invalid(
                                c.value.pos,
                                &ck,
                                format!("unknown condition {other:?}"),
                            ));
                        }
                    }
                }
                "restart" | "required" => {}
                _ => return Err(ctx.unknown(c.pos, &ck)),
            }
        }
        out.push(Dependency {
            service: e.key.clone(),
            condition,
        });
    }
    Ok(out)
}

fn links(ctx: &Ctx, v: &Node, key: &str) -> Result<Vec<Link>, ComposeError> {
    let mut out = Vec::new();
    for (i, s) in v.strings(ctx, key)?.into_iter().enumerate() {
        let (service, alias) = s.split_once(':').unwrap_or((&s, &s));
        if service.contains('/') {
            let msg = format!("link {s:?} to another stack is not supported: use its DNS name");
            return Err(ctx.unsupported(v.pos, &index(key, i), msg));
        }
        out.push(Link {
            service: service.to_string(),
            alias: alias.to_string(),
        });
    }
    Ok(out)
}

fn networks(
    ctx: &mut Ctx,
    v: &Node,
    key: &str,
    declared: Option<&BTreeSet<String>>,
) -> Result<Vec<NetworkAttachment>, ComposeError> {
    let mut out = Vec::new();
    let check = |ctx: &Ctx, name: &str, pos: Pos, k: &str| match declared {
        Some(d) if name != "default" && !d.contains(name) => {
            let msg = format!("network {name:?} is not declared under the top-level networks key");
            Err(ctx.err(ComposeError::ResolveReference, pos, k, msg))
        }
        _ => Ok(()),
    };
    if let Kind::Seq(items) = &v.kind {
        for (i, item) in items.iter().enumerate() {
            let k = index(key, i);
            let name = item.str(ctx, &k)?.to_string();
            check(ctx, &name, item.pos, &k)?;
            out.push(NetworkAttachment {
                name,
                aliases: Vec::new(),
            });
        }
        return Ok(out);
    }
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        check(ctx, &e.key, e.pos, &k)?;
        let mut aliases = Vec::new();
        for o in e.value.map(ctx, &k)? {
            let ok = join(&k, &o.key);
            match o.key.as_str() {
                "aliases" => aliases = o.value.strings(ctx, &ok)?,
                "ipv4_address" | "ipv6_address" | "link_local_ips" | "mac_address"
                | "driver_opts" => ctx.ignored(o.pos, &ok, "corral assigns addresses"),
                "priority" | "gw_priority" | "interface_name" => {}
                _ => return Err(ctx.unknown(o.pos, &ok)),
            }
        }
        out.push(NetworkAttachment {
            name: e.key.clone(),
            aliases,
        });
    }
    Ok(out)
}

fn ulimits(ctx: &Ctx, v: &Node, key: &str) -> Result<Vec<Ulimit>, ComposeError> {
    let mut out = Vec::new();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let (soft, hard) = match &e.value.kind {
            Kind::Map(_) => {
                let get = |name: &str| -> Result<i64, ComposeError> {
                    match e.value.get(name) {
                        Some(x) => x.value.i64(ctx, &join(&k, name)),
                        None => Err(ctx.invalid(e.value.pos, &k, format!("{name} is required"))),
                    }
                };
                for x in e.value.map(ctx, &k)? {
                    if x.key != "soft" && x.key != "hard" {
                        return Err(ctx.unknown(x.pos, &join(&k, &x.key)));
                    }
                }
                (get("soft")?, get("hard")?)
            }
            _ => {
                let n = e.value.i64(ctx, &k)?;
                (n, n)
            }
        };
        out.push(Ulimit {
            name: e.key.clone(),
            soft,
            hard,
        });
    }
    Ok(out)
}
