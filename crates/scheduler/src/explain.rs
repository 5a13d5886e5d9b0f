//! Why an instance cannot be placed: the nodes grouped by the first rule they
//! fail, most common first.
//!
//! Formats (`N` counts nodes):
//! - `no nodes`
//! - `no schedulable nodes (N not active or cordoned)`
//! - `<failure> on all N nodes` when every node fails the same way
//! - `N nodes: <failure>; 1 node: <failure>` otherwise
//!
//! where `<failure>` is `not active or cordoned`, `port 8080/tcp in use`,
//! `insufficient cpu (needs 1500m, 500m free)` or
//! `insufficient memory (needs 512 MiB, 256 MiB free)`; for a group of several
//! nodes the free amount is the largest one, written `at most 256 MiB free`.

use corral_types::Protocol;

use crate::Demand;
use crate::feasible::{self, Failure};
use crate::state::NodeState;

/// A failure without its per-node numbers: nodes of one class are counted together.
/// The derived order (the check order) breaks ties between equal counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Unschedulable,
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

/// The reason `demand` fits on none of `nodes`. O(nodes).
pub(crate) fn why(nodes: &[NodeState<'_>], demand: &Demand) -> String {
    if nodes.is_empty() {
        return "no nodes".to_string();
    }
    let mut groups: Vec<Group> = Vec::new();
    for node in nodes {
        let Err(failure) = feasible::check(node, demand) else {
            continue;
        };
        let (class, free) = match failure {
            Failure::Unschedulable => (Class::Unschedulable, 0),
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
    let total = nodes.len();
    match groups.as_slice() {
        // Only reached if a node was feasible after all; the caller never does that.
        [] => "no node selected".to_string(),
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

fn count_nodes(n: usize) -> String {
    if n == 1 {
        "1 node".to_string()
    } else {
        format!("{n} nodes")
    }
}

fn describe(group: &Group, demand: &Demand) -> String {
    let free = |amount: String| {
        if group.nodes == 1 {
            format!("{amount} free")
        } else {
            format!("at most {amount} free")
        }
    };
    match group.class {
        Class::Unschedulable => "not active or cordoned".to_string(),
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
