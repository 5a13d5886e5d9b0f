//! The shape of the scale benchmark's cluster: simulated nodes (labels,
//! capacity) and a mix of services (spread, host ports, label affinity,
//! reservations, global), plus the check that a placement broke no rule.
//!
//! Pure and dependent on `corral_types` only: `cargo xtask bench scale`
//! uses it, and so does the small correctness run in
//! `corral/tests/scale_small.rs` (through `#[path]`), so both place the
//! same mix.

use std::collections::{BTreeMap, BTreeSet};

use corral_types::{
    Instance, InstanceState, Node, Placement, PlacementRule, PortSpec, Resources, RuleTarget,
    ServiceMode, ServiceSpec, Strength,
};

pub const IMAGE: &str = "bench/scale:1";
/// Every simulated node has this much, like the fake engine's default.
pub const NODE_CPU_MILLIS: u64 = 4000;
pub const NODE_MEMORY_BYTES: u64 = 8 << 30;
/// What one instance of a reserving service reserves: 8 fit on a node.
pub const RESERVE_CPU_MILLIS: u64 = 500;
pub const RESERVE_MEMORY_BYTES: u64 = 512 << 20;
/// Reserving services together ask for at most this share of the
/// cluster's CPU (in percent), so they always fit.
const RESERVE_SHARE_PERCENT: u64 = 60;
pub const ZONES: [&str; 3] = ["a", "b", "c"];
/// Every third node (0, 3, 6, ...) has `disk=ssd`.
pub const SSD_EVERY: usize = 3;
pub const HOST_PORT_BASE: u16 = 20000;
/// The most instances of one service (`corral_types::MAX_SCALE`).
const MAX_SCALE: u32 = corral_types::MAX_SCALE;

/// The name of simulated node `i`.
pub fn node_name(i: usize) -> String {
    format!("sim-{i:05}")
}

/// `zone=a|b|c` round robin, and `disk=ssd` on every third node.
pub fn node_labels(i: usize) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert("zone".to_string(), ZONES[i % ZONES.len()].to_string());
    if i.is_multiple_of(SSD_EVERY) {
        labels.insert("disk".to_string(), "ssd".to_string());
    }
    labels
}

/// The kinds of service in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Replicated, spread over `zone`.
    Spread,
    /// Replicated, publishes this host port (so at most one per node).
    HostPort(u16),
    /// Replicated, hard rule `node.labels.disk == ssd`.
    Ssd,
    /// Replicated, reserves CPU and memory.
    Reserved,
    /// One instance per node.
    Global,
}

impl Shape {
    pub fn word(self) -> &'static str {
        match self {
            Shape::Spread => "spread",
            Shape::HostPort(_) => "port",
            Shape::Ssd => "ssd",
            Shape::Reserved => "reserved",
            Shape::Global => "global",
        }
    }
}

/// One service of the mix and how many instances it should end with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePlan {
    pub name: String,
    pub shape: Shape,
    /// The spec's scale (0 for global services).
    pub scale: u32,
    /// Instances expected running: `scale`, or the node count when global.
    pub expected: u32,
}

/// About a tenth of the instances in global services (at least one global
/// service once there are 10 services and 4 instances per node), the rest
/// in replicated services: 60 % spread, 10 % host port, 10 % ssd, 20 %
/// reserving. Constrained services are capped so that everything fits; what
/// they cannot take goes to the spread services.
pub fn plan_services(
    nodes: usize,
    instances: usize,
    services: usize,
) -> Result<Vec<ServicePlan>, String> {
    if nodes == 0 || services == 0 {
        return Err("nodes and services must be at least 1".into());
    }
    let mut globals = (instances / 10 / nodes).min(services / 10);
    if globals == 0 && services >= 10 && instances >= 4 * nodes {
        globals = 1;
    }
    let replicated = services - globals;
    let rest = instances.saturating_sub(globals * nodes);
    if replicated == 0 && rest > 0 {
        return Err(format!(
            "{services} services cannot hold {instances} instances"
        ));
    }
    let shapes: Vec<Shape> = (0..replicated)
        .map(|j| match j % 10 {
            6 => {
                Shape::HostPort(HOST_PORT_BASE.saturating_add(u16::try_from(j).unwrap_or(u16::MAX)))
            }
            7 => Shape::Ssd,
            8 | 9 => Shape::Reserved,
            _ => Shape::Spread,
        })
        .collect();
    let scales = replicated_scales(&shapes, rest, nodes).ok_or_else(|| {
        format!(
            "{instances} instances do not fit in {services} services on {nodes} nodes (scale at most {MAX_SCALE})"
        )
    })?;
    let node_count = u32::try_from(nodes).map_err(|_| "too many nodes".to_string())?;
    let mut plans: Vec<ServicePlan> = (0..globals)
        .map(|g| ServicePlan {
            name: format!("g{g:04}-global"),
            shape: Shape::Global,
            scale: 0,
            expected: node_count,
        })
        .collect();
    for (j, (scale, shape)) in scales.into_iter().zip(shapes).enumerate() {
        let scale = u32::try_from(scale).map_err(|_| "scale too large".to_string())?;
        plans.push(ServicePlan {
            name: format!("b{j:04}-{}", shape.word()),
            shape,
            scale,
            expected: scale,
        });
    }
    Ok(plans)
}

/// `rest` instances over replicated services of `shapes`: evenly, then
/// capped (host ports: one per node; reservations: what fits), the excess
/// moved to the spread services. None when it does not fit.
fn replicated_scales(shapes: &[Shape], rest: usize, nodes: usize) -> Option<Vec<usize>> {
    let reserved_count = shapes
        .iter()
        .filter(|s| **s == Shape::Reserved)
        .count()
        .max(1);
    let per_node = NODE_CPU_MILLIS / RESERVE_CPU_MILLIS;
    let reserve_room = (per_node * nodes as u64 * RESERVE_SHARE_PERCENT / 100) as usize;
    let reserve_cap = reserve_room / reserved_count;
    let mut scales: Vec<usize> = (0..shapes.len())
        .map(|j| rest / shapes.len().max(1) + usize::from(j < rest % shapes.len().max(1)))
        .collect();
    let mut leftover = 0;
    for (scale, shape) in scales.iter_mut().zip(shapes) {
        let cap = match shape {
            Shape::HostPort(_) => nodes,
            Shape::Reserved => reserve_cap,
            _ => MAX_SCALE as usize,
        }
        .min(MAX_SCALE as usize);
        if *scale > cap {
            leftover += *scale - cap;
            *scale = cap;
        }
    }
    for (scale, shape) in scales.iter_mut().zip(shapes) {
        if *shape == Shape::Spread && leftover > 0 {
            let room = (MAX_SCALE as usize).saturating_sub(*scale).min(leftover);
            *scale += room;
            leftover -= room;
        }
    }
    (leftover == 0).then_some(scales)
}

/// The spec of one planned service.
pub fn service_spec(plan: &ServicePlan) -> ServiceSpec {
    let mut spec = ServiceSpec {
        image: IMAGE.to_string(),
        scale: plan.scale,
        ..ServiceSpec::default()
    };
    match plan.shape {
        Shape::Spread => {
            spec.placement.spread_over = vec!["zone".to_string()];
        }
        Shape::HostPort(port) => spec.ports.push(PortSpec {
            host_port: port,
            container_port: 80,
            protocol: corral_types::Protocol::Tcp,
        }),
        Shape::Ssd => {
            spec.placement = Placement {
                rules: vec![PlacementRule {
                    target: RuleTarget::NodeLabel {
                        key: "disk".to_string(),
                        value: "ssd".to_string(),
                    },
                    equal: true,
                    strength: Strength::Hard,
                }],
                ..Placement::default()
            };
        }
        Shape::Reserved => {
            spec.resources = Resources {
                cpu_millis: RESERVE_CPU_MILLIS,
                memory_bytes: RESERVE_MEMORY_BYTES,
            };
        }
        Shape::Global => spec.mode = ServiceMode::Global,
    }
    spec
}

/// Every instance the mix expects.
pub fn expected_total(plans: &[ServicePlan]) -> u64 {
    plans.iter().map(|p| u64::from(p.expected)).sum()
}

/// What broke: each entry names the rule and where; empty when all is well.
/// `instances` are those of the planned services (others are ignored).
pub fn check_rules(plans: &[ServicePlan], nodes: &[Node], instances: &[Instance]) -> Vec<String> {
    let mut problems = Vec::new();
    let by_name: BTreeMap<&str, &ServicePlan> =
        plans.iter().map(|p| (p.name.as_str(), p)).collect();
    let node_by_name: BTreeMap<&str, &Node> =
        nodes.iter().map(|n| (n.meta.name.as_str(), n)).collect();
    let mut count: BTreeMap<&str, u32> = BTreeMap::new();
    let mut ports: BTreeSet<(&str, u16)> = BTreeSet::new();
    let mut used: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut global_nodes: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for inst in instances {
        let Some(plan) = by_name.get(inst.spec.service.as_str()) else {
            continue;
        };
        let name = inst.meta.name.as_str();
        *count.entry(plan.name.as_str()).or_default() += 1;
        if inst.status.state != InstanceState::Running {
            problems.push(format!(
                "{name} is {} ({})",
                inst.status.state, inst.status.reason
            ));
        }
        let node = inst.spec.node.as_str();
        let Some(n) = node_by_name.get(node) else {
            problems.push(format!("{name} is on unknown node {node:?}"));
            continue;
        };
        for port in inst.spec.launch.host_ports() {
            if !ports.insert((node, port.0)) {
                problems.push(format!("host port {} is booked twice on {node}", port.0));
            }
        }
        let load = used.entry(node).or_default();
        load.0 += inst.spec.launch.resources.cpu_millis;
        load.1 += inst.spec.launch.resources.memory_bytes;
        if plan.shape == Shape::Ssd && n.meta.labels.get("disk").map(String::as_str) != Some("ssd")
        {
            problems.push(format!(
                "{name} (disk=ssd only) is on {node}, not an ssd node"
            ));
        }
        if plan.shape == Shape::Global
            && !global_nodes
                .entry(plan.name.as_str())
                .or_default()
                .insert(node)
        {
            problems.push(format!(
                "{name}: global service {} has two instances on {node}",
                plan.name
            ));
        }
    }
    for (node, (cpu, memory)) in &used {
        let Some(n) = node_by_name.get(node) else {
            continue;
        };
        if *cpu > n.status.cpu_millis || *memory > n.status.memory_bytes {
            problems.push(format!(
                "{node} is over capacity: {cpu} mCPU, {memory} bytes reserved"
            ));
        }
    }
    for plan in plans {
        let found = count.get(plan.name.as_str()).copied().unwrap_or(0);
        if found != plan.expected {
            problems.push(format!(
                "{} has {found} instances, expected {}",
                plan.name, plan.expected
            ));
        }
    }
    problems
}

/// Spread over `zone` is a preference, not a rule: the worst spread service
/// as (largest minus smallest zone count, a description), None without any.
pub fn spread_skew(
    plans: &[ServicePlan],
    nodes: &[Node],
    instances: &[Instance],
) -> Option<(u32, String)> {
    let zone_of: BTreeMap<&str, &str> = nodes
        .iter()
        .map(|n| {
            let zone = n.meta.labels.get("zone").map_or("", String::as_str);
            (n.meta.name.as_str(), zone)
        })
        .collect();
    let spread: BTreeSet<&str> = plans
        .iter()
        .filter(|p| p.shape == Shape::Spread)
        .map(|p| p.name.as_str())
        .collect();
    let mut zones: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
    for inst in instances {
        let service = inst.spec.service.as_str();
        if spread.contains(service) {
            let zone = zone_of.get(inst.spec.node.as_str()).copied().unwrap_or("");
            *zones.entry(service).or_default().entry(zone).or_default() += 1;
        }
    }
    let mut worst: Option<(u32, String)> = None;
    for (service, counts) in zones {
        let all: Vec<u32> = ZONES
            .iter()
            .map(|z| counts.get(z).copied().unwrap_or(0))
            .collect();
        let skew = all.iter().max().copied().unwrap_or(0) - all.iter().min().copied().unwrap_or(0);
        if worst.as_ref().is_none_or(|(w, _)| skew > *w) {
            worst = Some((skew, format!("{service}: {counts:?}")));
        }
    }
    worst
}
