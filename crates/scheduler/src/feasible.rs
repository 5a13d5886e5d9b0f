//! Filter: can a node take an instance right now?

use corral_types::Protocol;

use crate::rules::Prepared;
use crate::state::NodeState;

/// The first rule a node fails, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Not active, or cordoned.
    Unschedulable,
    /// The hard rule at this position of `demand.rules` does not hold.
    Rule(usize),
    /// An instance on the node excludes this one with a hard `!=` rule.
    Repelled,
    /// The node already runs `max_per_node` instances of the service.
    MaxPerNode,
    /// A host port of the demand is held by an instance on the node.
    PortInUse(u16, Protocol),
    /// Not enough CPU left; `free` is what is left, in millicores.
    Cpu { free: u64 },
    /// Not enough memory left; `free` is what is left, in bytes.
    Memory { free: u64 },
}

/// Checks the placement rules: schedulable, the hard rules in order, the
/// anti-affinity of the instances on the node. Ports and resources aside.
pub(crate) fn check_rules(node: &NodeState<'_>, demand: &Prepared<'_>) -> Result<(), Failure> {
    if !node.view.schedulable {
        return Err(Failure::Unschedulable);
    }
    if let Some(test) = demand.hard.iter().find(|test| !test.holds(node)) {
        return Err(Failure::Rule(test.index));
    }
    if demand.repelled_by(node) {
        return Err(Failure::Repelled);
    }
    Ok(())
}

/// Checks every rule in order (placement rules, replicas per node, ports,
/// cpu, memory) and returns the first one the node fails.
pub(crate) fn check(node: &NodeState<'_>, prepared: &Prepared<'_>) -> Result<(), Failure> {
    check_rules(node, prepared)?;
    let demand = prepared.demand;
    if demand.max_per_node > 0 && node.replicas_of(prepared.service) >= demand.max_per_node {
        return Err(Failure::MaxPerNode);
    }
    if let Some(&(port, protocol)) = demand
        .host_ports
        .iter()
        .find(|key| key.0 != 0 && node.ports.contains(key))
    {
        return Err(Failure::PortInUse(port, protocol));
    }
    if let Some(free) = shortfall(node.view.cpu_millis, node.cpu_used, demand.cpu_millis) {
        return Err(Failure::Cpu { free });
    }
    if let Some(free) = shortfall(
        node.view.memory_bytes,
        node.memory_used,
        demand.memory_bytes,
    ) {
        return Err(Failure::Memory { free });
    }
    Ok(())
}

/// `None` when `demand` fits, else what is free. A capacity of 0 means unknown
/// (unlimited); a demand of 0 always fits.
fn shortfall(capacity: u64, used: u64, demand: u64) -> Option<u64> {
    if capacity == 0 || demand == 0 {
        return None;
    }
    let free = capacity.saturating_sub(used);
    (demand > free).then_some(free)
}

#[cfg(test)]
mod tests {
    use super::shortfall;

    #[test]
    fn shortfall_treats_zero_capacity_as_unlimited_and_zero_demand_as_fitting() {
        assert_eq!(shortfall(0, 10, 5), None);
        assert_eq!(shortfall(10, 20, 0), None);
        assert_eq!(shortfall(10, 4, 6), None);
        assert_eq!(shortfall(10, 5, 6), Some(5));
        assert_eq!(shortfall(10, 20, 1), Some(0));
    }
}
