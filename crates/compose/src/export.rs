//! Services back to a docker-compose.yml (Compose Specification, no
//! version), plus a rancher-compose.yml when a service has an HTTP or TCP
//! health check, which only Rancher's `health_check` can express, or is a
//! load balancer (`lb_config`, with `image: rancher/lb-service-haproxy`).

use std::collections::{BTreeMap, BTreeSet};

use corral_types::{
    FailureAction, HealthCheck, HealthStrategy, LbConfig, NetworkMode, Probe, Resources,
    RestartPolicy, RuleTarget, ServiceMode, ServiceSpec, Sidekick, SourceFile, Strength,
    UpdateConfig, UpdateOrder, VolumeMount,
};
use serde::Serialize;

use crate::export_types::{
    Deploy, ExternalSecret, Healthcheck, LbConfigOut, Limits, Mount, Ordered, Placement,
    PortRuleOut, RancherFile, RancherHealth, RancherService, RestartOut, SecretOut, ServiceOut,
    StickinessOut, UpdateOut,
};
use crate::lb::RANCHER_LB_IMAGE;
use crate::units::{format_cpus, format_duration};

/// Escapes `$` so interpolation gives the text back.
pub(crate) fn esc(s: &str) -> String {
    s.replace('$', "$$")
}

fn esc_all(v: &[String]) -> Vec<String> {
    v.iter().map(|s| esc(s)).collect()
}

#[derive(Serialize)]
struct ComposeFile {
    services: Ordered<ServiceOut>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    volumes: BTreeMap<String, Option<()>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    networks: BTreeMap<String, Option<()>>,
    /// Every secret a service mounts, as an external reference.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    secrets: BTreeMap<String, ExternalSecret>,
    /// Every config a service mounts, as an external reference too.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    configs: BTreeMap<String, ExternalSecret>,
}

pub(crate) fn export(
    _stack: &str,
    services: &BTreeMap<String, ServiceSpec>,
    volumes: &BTreeSet<String>,
) -> Vec<SourceFile> {
    let mut out = ComposeFile {
        services: Ordered(Vec::new()),
        volumes: volumes.iter().map(|v| (v.clone(), None)).collect(),
        networks: BTreeMap::new(),
        secrets: services
            .values()
            .flat_map(|s| s.secrets.iter())
            .map(|m| (m.source.clone(), ExternalSecret { external: true }))
            .collect(),
        configs: services
            .values()
            .flat_map(|s| s.configs.iter())
            .map(|m| (m.source.clone(), ExternalSecret { external: true }))
            .collect(),
    };
    let mut rancher = Ordered(Vec::new());
    for (name, spec) in services {
        let mut svc = service(spec);
        if !spec.sidekicks.is_empty() {
            let names: Vec<&str> = spec.sidekicks.iter().map(|s| s.name.as_str()).collect();
            svc.labels
                .insert("io.rancher.sidekicks".into(), names.join(","));
        }
        out.services.0.push((name.clone(), svc));
        for s in &spec.sidekicks {
            out.services.0.push((s.name.clone(), sidekick(name, s)));
        }
        let health_check = spec.health_check.as_ref().and_then(rancher_health);
        let lb_config = spec.lb.as_ref().map(lb_config);
        if health_check.is_some() || lb_config.is_some() {
            rancher.0.push((
                name.clone(),
                RancherService {
                    health_check,
                    lb_config,
                },
            ));
        }
        for n in spec.networks.iter().filter(|n| n.name != "default") {
            out.networks.insert(n.name.clone(), None);
        }
        let mounts = spec
            .volumes
            .iter()
            .chain(spec.sidekicks.iter().flat_map(|s| &s.volumes));
        for m in
            mounts.filter(|m| m.kind == corral_types::MountKind::Volume && !m.source.is_empty())
        {
            out.volumes.insert(m.source.clone(), None);
        }
    }
    let mut files = vec![SourceFile {
        name: "docker-compose.yml".into(),
        content: serde_saphyr::to_string(&out).unwrap_or_default(),
    }];
    if !rancher.0.is_empty() {
        let file = RancherFile {
            version: "2".into(),
            services: rancher,
        };
        files.push(SourceFile {
            name: "rancher-compose.yml".into(),
            content: serde_saphyr::to_string(&file).unwrap_or_default(),
        });
    }
    files
}

fn service(spec: &ServiceSpec) -> ServiceOut {
    let image = if spec.lb.is_some() && spec.image.is_empty() {
        RANCHER_LB_IMAGE
    } else {
        &spec.image
    };
    let mut s = ServiceOut {
        image: esc(image),
        command: esc_all(&spec.command),
        entrypoint: spec.entrypoint.as_deref().map(esc_all),
        environment: spec.env.iter().map(|(k, v)| (k.clone(), esc(v))).collect(),
        ports: spec.ports.iter().map(|p| p.to_string()).collect(),
        labels: spec
            .container_labels
            .iter()
            .map(|(k, v)| (k.clone(), esc(v)))
            .collect(),
        working_dir: esc(&spec.working_dir),
        user: esc(&spec.user),
        hostname: esc(&spec.hostname),
        network_mode: match spec.network_mode {
            NetworkMode::Managed => None,
            NetworkMode::Bridge => Some("bridge"),
            NetworkMode::Host => Some("host"),
        },
        pid: spec.pid_mode.is_host().then_some("host"),
        ipc: spec.ipc_mode.is_host().then_some("host"),
        uts: spec.uts_mode.is_host().then_some("host"),
        volumes: spec.volumes.iter().map(mount).collect(),
        secrets: spec
            .secrets
            .iter()
            .map(|m| SecretOut {
                source: m.source.clone(),
                target: m.target.clone(),
                env: m.env.clone(),
                uid: m.uid.map(|u| u.to_string()),
                gid: m.gid.map(|g| g.to_string()),
                mode: m.mode.map(|m| format!("0{m:o}")),
            })
            .collect(),
        configs: spec
            .configs
            .iter()
            .map(|m| SecretOut {
                source: m.source.clone(),
                target: m.container_path(),
                env: String::new(),
                uid: m.uid.map(|u| u.to_string()),
                gid: m.gid.map(|g| g.to_string()),
                mode: m.mode.map(|m| format!("0{m:o}")),
            })
            .collect(),
        cap_add: esc_all(&spec.cap_add),
        cap_drop: esc_all(&spec.cap_drop),
        privileged: spec.privileged,
        ulimits: Ordered(
            spec.ulimits
                .iter()
                .map(|u| (u.name.clone(), (u.soft, u.hard).into()))
                .collect(),
        ),
        stop_grace_period: spec.stop_grace_period_ms.map(format_duration),
        stop_signal: esc(&spec.stop_signal),
        links: spec
            .links
            .iter()
            .map(|l| link(&l.service, &l.alias))
            .collect(),
        depends_on: Ordered(
            spec.depends_on
                .iter()
                .map(|d| (d.service.clone(), d.condition.into()))
                .collect(),
        ),
        healthcheck: spec.health_check.as_ref().and_then(compose_health),
        ..ServiceOut::default()
    };
    if !spec.networks.is_empty() {
        s.networks = Some(Ordered(
            spec.networks
                .iter()
                .map(|n| {
                    (
                        n.name.clone(),
                        (!n.aliases.is_empty()).then(|| esc_all(&n.aliases).into()),
                    )
                })
                .collect(),
        ));
    }
    s.volumes_from = esc_all(&spec.volumes_from);
    restart(spec, &mut s);
    let mut d = deploy(spec, &mut s.labels);
    d.restart_policy = s.restart_policy.take();
    s.deploy = (d != Deploy::default()).then_some(d);
    s
}

fn link(service: &str, alias: &str) -> String {
    if service == alias {
        esc(service)
    } else {
        esc(&format!("{service}:{alias}"))
    }
}

fn mount(m: &VolumeMount) -> Mount {
    Mount {
        kind: match m.kind {
            corral_types::MountKind::Volume => "volume",
            corral_types::MountKind::Bind => "bind",
            corral_types::MountKind::Tmpfs => "tmpfs",
        },
        source: (!m.source.is_empty()).then(|| esc(&m.source)),
        target: esc(&m.target),
        read_only: m.read_only,
    }
}

fn sidekick(primary: &str, k: &Sidekick) -> ServiceOut {
    let spec = ServiceSpec {
        image: k.image.clone(),
        command: k.command.clone(),
        entrypoint: k.entrypoint.clone(),
        env: k.env.clone(),
        volumes: k.volumes.clone(),
        container_labels: k.container_labels.clone(),
        ports: k.ports.clone(),
        working_dir: k.working_dir.clone(),
        user: k.user.clone(),
        privileged: k.privileged,
        limits: k.limits,
        scale: 1,
        ..ServiceSpec::default()
    };
    let mut s = service(&spec);
    s.volumes_from = k
        .volumes_from
        .iter()
        .map(|v| if v.is_empty() { esc(primary) } else { esc(v) })
        .collect();
    if k.start_once {
        s.labels
            .insert("io.rancher.container.start_once".into(), "true".into());
    }
    s
}

/// `restart:`, or a start_once label, or a deploy restart policy for jobs.
fn restart(spec: &ServiceSpec, s: &mut ServiceOut) {
    match spec.job {
        Some(job) if job.max_attempts == 0 => {
            s.labels
                .insert("io.rancher.container.start_once".into(), "true".into());
        }
        Some(job) => {
            s.restart_policy = Some(RestartOut {
                condition: match spec.restart {
                    RestartPolicy::Never => "none",
                    RestartPolicy::OnFailure => "on-failure",
                    RestartPolicy::Always => "any",
                },
                max_attempts: job.max_attempts,
            });
        }
        None => {
            s.restart = match spec.restart {
                RestartPolicy::Always => None,
                RestartPolicy::OnFailure => Some("on-failure"),
                RestartPolicy::Never => Some("no"),
            }
        }
    }
}

fn deploy(spec: &ServiceSpec, labels: &mut BTreeMap<String, String>) -> Deploy {
    let mut d = Deploy {
        mode: (spec.mode == ServiceMode::Global).then_some("global"),
        replicas: (spec.scale != 1).then_some(spec.scale),
        ..Deploy::default()
    };
    let limits = |r: &Resources| {
        (*r != Resources::default()).then(|| Limits {
            cpus: (r.cpu_millis != 0).then(|| format_cpus(r.cpu_millis)),
            memory: (r.memory_bytes != 0).then(|| r.memory_bytes.to_string()),
        })
    };
    d.resources.limits = limits(&spec.limits);
    d.resources.reservations = limits(&spec.resources);
    d.update_config = update(&spec.update);
    d.rollback_config = update(&spec.rollback);
    d.placement = placement(spec, labels);
    d
}

fn update(u: &UpdateConfig) -> Option<UpdateOut> {
    (*u != UpdateConfig::default()).then(|| UpdateOut {
        parallelism: u.batch_size,
        delay: format_duration(u.interval_ms),
        monitor: format_duration(u.monitor_ms),
        order: match u.order {
            UpdateOrder::StopFirst => "stop-first",
            UpdateOrder::StartFirst => "start-first",
        },
        failure_action: match u.failure_action {
            FailureAction::Rollback => "rollback",
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
        },
    })
}

/// Hard node rules become constraints; the rest Rancher affinity labels.
fn placement(spec: &ServiceSpec, labels: &mut BTreeMap<String, String>) -> Placement {
    let p = &spec.placement;
    let mut out = Placement {
        max_replicas_per_node: p.max_per_node,
        preferences: p
            .spread_over
            .iter()
            .map(|l| [("spread".to_string(), esc(&format!("node.labels.{l}")))].into())
            .collect(),
        ..Placement::default()
    };
    for r in &p.rules {
        let op = if r.equal { "==" } else { "!=" };
        let hard = r.strength == Strength::Hard;
        let (kind, item) = match &r.target {
            RuleTarget::NodeLabel { key, value } if hard => {
                out.constraints
                    .push(esc(&format!("node.labels.{key} {op} {value}")));
                continue;
            }
            RuleTarget::NodeName { value } if hard => {
                out.constraints
                    .push(esc(&format!("node.name {op} {value}")));
                continue;
            }
            RuleTarget::NodeRole { value } if hard => {
                out.constraints
                    .push(esc(&format!("node.role {op} {value}")));
                continue;
            }
            RuleTarget::NodeLabel { key, value } => ("host_label", format!("{key}={value}")),
            RuleTarget::ContainerLabel { key, value } => {
                ("container_label", format!("{key}={value}"))
            }
            RuleTarget::Instance { name } => ("container", name.clone()),
            // Soft node name and role rules have no Rancher form: kept hard.
            RuleTarget::NodeName { value } => {
                out.constraints
                    .push(esc(&format!("node.name {op} {value}")));
                continue;
            }
            RuleTarget::NodeRole { value } => {
                out.constraints
                    .push(esc(&format!("node.role {op} {value}")));
                continue;
            }
        };
        let suffix = match (hard, r.equal) {
            (true, true) => "",
            (true, false) => "_ne",
            (false, true) => "_soft",
            (false, false) => "_soft_ne",
        };
        let label = format!("io.rancher.scheduler.affinity:{kind}{suffix}");
        let entry = labels.entry(label).or_default();
        if !entry.is_empty() {
            entry.push(',');
        }
        entry.push_str(&esc(&item));
    }
    out
}

fn compose_health(h: &HealthCheck) -> Option<Healthcheck> {
    let Probe::Command { command } = &h.probe else {
        return None;
    };
    Some(Healthcheck {
        test: esc_all(command),
        interval: format_duration(h.interval_ms),
        timeout: format_duration(h.timeout_ms),
        retries: h.unhealthy_threshold,
        start_period: format_duration(h.start_period_ms),
    })
}

fn rancher_health(h: &HealthCheck) -> Option<RancherHealth> {
    let (port, request_line) = match &h.probe {
        Probe::Http { port, request_line } => (*port, Some(esc(request_line))),
        Probe::Tcp { port } => (*port, None),
        Probe::Command { .. } => return None,
    };
    Some(RancherHealth {
        port,
        request_line,
        interval: h.interval_ms,
        response_timeout: h.timeout_ms,
        healthy_threshold: h.healthy_threshold,
        unhealthy_threshold: h.unhealthy_threshold,
        initializing_timeout: h.initializing_timeout_ms,
        reinitializing_timeout: h.reinitializing_timeout_ms,
        strategy: match h.strategy {
            HealthStrategy::Recreate => "recreate",
            HealthStrategy::None => "none",
        },
    })
}

/// A load balancer's config as Rancher's `lb_config`.
fn lb_config(lb: &LbConfig) -> LbConfigOut {
    LbConfigOut {
        port_rules: lb
            .port_rules
            .iter()
            .map(|r| PortRuleOut {
                source_port: r.source_port,
                protocol: r.protocol.to_string(),
                hostname: esc(&r.hostname),
                path: esc(&r.path),
                priority: r.priority,
                service: esc(&r.target_service),
                target_port: r.target_port,
                backend_name: esc(&r.backend_name),
            })
            .collect(),
        certs: esc_all(&lb.certificates),
        default_cert: esc(&lb.default_certificate),
        stickiness_policy: lb.stickiness.as_ref().map(|s| StickinessOut {
            cookie: esc(&s.cookie),
            domain: esc(&s.domain),
        }),
    }
}
