//! Why an instance cannot be placed: the nodes grouped by the first rule they
//! fail, most common first.
//!
//! Formats (`N` counts nodes):
//! - `no nodes`
//! - `no schedulable nodes (N not active or cordoned)`
//! - `<failure> on all N nodes` when every node fails the same way
//! - `N nodes: <failure>; 1 node: <failure>` otherwise
//! - `<failure> on node NAME`, or `node NAME not found`, for a pinned demand
//!
//! where `<failure>` is `not active or cordoned`, a hard rule
//! (`host label disk=ssd missing`, `host label zone=a present`,
//! `node name is not n1`, `node name is n1`, `node role is not manager`,
//! `node role is manager`, `container label app=db absent`,
//! `container label app=db present`, `container web absent`,
//! `container web present`), `excluded by a container's anti-affinity`,
//! `max 1 per node reached`, `port 8080/tcp in use`,
//! `insufficient cpu (needs 1500m, 500m free)` or
//! `insufficient memory (needs 512 MiB, 256 MiB free)`; for a group of several
//! nodes the free amount is the largest one, written `at most 256 MiB free`.

use corral_types::{Protocol, RuleTarget};

use crate::feasible::{self, Failure};
use crate::rules::Prepared;
use crate::state::NodeState;

/// A failure without its per-node numbers: nodes of one class are counted together.
/// The derived order (the check order) breaks ties between equal counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Unschedulable,
    Rule(usize),
    Repelled,
    MaxPerNode,
    Port(u16, Protocol),
    Cpu,
    Memory,
}

struct Group {
    class: Class,
    nodes: usize,
    /// The most free CPU or memory among the group's nodes.
    max_free: u64,
}

/// The reason `demand` fits on none of `nodes` (on its pinned node only,
/// when it has one). O(nodes × rules).
pub(crate) fn why(nodes: &[NodeState<'_>], demand: &Prepared<'_>) -> String {
    let scope = match demand.pinned {
        Some(Some(index)) => &nodes[index..=index],
        Some(None) => {
            let name = demand.demand.pinned_node.as_deref().unwrap_or_default();
            return format!("node {name} not found");
        }
        None => nodes,
    };
    if scope.is_empty() {
        return "no nodes".to_string();
    }
    let groups = group(scope, demand);
    let total = scope.len();
    match groups.as_slice() {
        // Only reached if a node was feasible after all; the caller never does that.
        [] => "no node selected".to_string(),
        [only] if demand.pinned.is_some() => {
            format!("{} on node {}", describe(only, demand), scope[0].view.name)
        }
        [only] if only.nodes == total && only.class == Class::Unschedulable => {
            format!("no schedulable nodes ({total} not active or cordoned)")
        }
        [only] if only.nodes == total => {
            format!("{} on all {total} nodes", describe(only, demand))
        }
        _ => groups
            .iter()
            .map(|g| format!("{}: {}", count_nodes(g.nodes), describe(g, demand)))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// The failing nodes grouped by class, most common first.
fn group(nodes: &[NodeState<'_>], demand: &Prepared<'_>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for node in nodes {
        let Err(failure) = feasible::check(node, demand) else {
            continue;
        };
        let (class, free) = match failure {
            Failure::Unschedulable => (Class::Unschedulable, 0),
            Failure::Rule(index) => (Class::Rule(index), 0),
            Failure::Repelled => (Class::Repelled, 0),
            Failure::MaxPerNode => (Class::MaxPerNode, 0),
            Failure::PortInUse(port, protocol) => (Class::Port(port, protocol), 0),
            Failure::Cpu { free } => (Class::Cpu, free),
            Failure::Memory { free } => (Class::Memory, free),
        };
        match groups.iter_mut().find(|g| g.class == class) {
            Some(group) => {
                group.nodes += 1;
                group.max_free = group.max_free.max(free);
            }
            None => groups.push(Group {
                class,
                nodes: 1,
                max_free: free,
            }),
        }
    }
    groups.sort_by(|a, b| b.nodes.cmp(&a.nodes).then(a.class.cmp(&b.class)));
    groups
}

fn count_nodes(n: usize) -> String {
    if n == 1 {
        "1 node".to_string()
    } else {
        format!("{n} nodes")
    }
}

fn describe(group: &Group, prepared: &Prepared<'_>) -> String {
    let demand = prepared.demand;
    let free = |amount: String| {
        if group.nodes == 1 {
            format!("{amount} free")
        } else {
            format!("at most {amount} free")
        }
    };
    match group.class {
        Class::Unschedulable => "not active or cordoned".to_string(),
        Class::Rule(index) => demand.rules.get(index).map_or_else(
            || "a placement rule fails".to_string(),
            |r| describe_rule(&r.target, r.equal),
        ),
        Class::Repelled => "excluded by a container's anti-affinity".to_string(),
        Class::MaxPerNode => format!("max {} per node reached", demand.max_per_node),
        Class::Port(port, protocol) => format!("port {port}/{protocol} in use"),
        Class::Cpu => format!(
            "insufficient cpu (needs {}m, {})",
            demand.cpu_millis,
            free(format!("{}m", group.max_free))
        ),
        Class::Memory => format!(
            "insufficient memory (needs {}, {})",
            human_bytes(demand.memory_bytes),
            free(human_bytes(group.max_free))
        ),
    }
}

/// How a node fails a hard rule: `host label disk=ssd missing`.
fn describe_rule(target: &RuleTarget, equal: bool) -> String {
    let (absent, present) = ("absent", "present");
    match target {
        RuleTarget::NodeLabel { key, value } => {
            let state = if equal { "missing" } else { present };
            format!("host label {key}={value} {state}")
        }
        RuleTarget::NodeName { value } => {
            format!("node name is {}{value}", if equal { "not " } else { "" })
        }
        RuleTarget::NodeRole { value } => {
            format!("node role is {}{value}", if equal { "not " } else { "" })
        }
        RuleTarget::ContainerLabel { key, value } => {
            let state = if equal { absent } else { present };
            format!("container label {key}={value} {state}")
        }
        RuleTarget::Instance { name } => {
            format!("container {name} {}", if equal { absent } else { present })
        }
    }
}

/// `512 MiB`, `1.5 GiB`, `100 B`: binary units, at most one decimal.
pub(crate) fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut unit = 1024u128;
    for (i, name) in UNITS.iter().enumerate() {
        // Tenths of this unit, rounded half up; integer maths only.
        let tenths = (u128::from(bytes) * 10 + unit / 2) / unit;
        if tenths < 10 * 1024 || i == UNITS.len() - 1 {
            let (whole, tenth) = (tenths / 10, tenths % 10);
            return if tenth == 0 {
                format!("{whole} {name}")
            } else {
                format!("{whole}.{tenth} {name}")
            };
        }
        unit *= 1024;
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn human_bytes_uses_binary_units_and_one_decimal() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1024), "1 KiB");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(512 << 20), "512 MiB");
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes((1 << 20) - 1), "1 MiB");
        assert_eq!(human_bytes(u64::MAX), "16 EiB");
    }
}
