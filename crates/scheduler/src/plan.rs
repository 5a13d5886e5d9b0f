//! `schedule`: filter, score, select, one pending instance after the other.

use corral_types::{RuleTarget, Strength};

use crate::state::Cluster;
use crate::{Decision, Demand, Pending, Plan, Snapshot, explain, feasible, rank, rules, shape};

/// Places each pending instance, in the order given, on the best feasible
/// node, or says why it cannot be placed.
///
/// Pure and deterministic: no clock, no IO, ties broken by node name.
/// Decisions made earlier in the plan count for the later ones (their ports,
/// resources, replicas, labels and anti-affinity rules). An instance left
/// unplaced because a container it needs (a hard `==` container or container
/// label rule) was not there yet is tried again after the others, until a
/// pass places none of them: a later placement may have brought it.
///
/// Cost: O(nodes log nodes + placed) to index the snapshot once, O(nodes ×
/// rules) per demand shape (hard and soft node rules, `spread_over` keys)
/// to group the nodes, then per pending instance the ranking of its shape's
/// groups and a walk from the best node of the best ones to the first
/// feasible node (see `shape.rs`), or O(nodes × rules) for the demands
/// scanned (pinned, container rules). An instance that stays unplaced costs
/// O(nodes × rules) more to explain.
pub fn schedule(snapshot: &Snapshot, pending: &[Pending]) -> Plan {
    schedule_with(snapshot, pending, Ranking::Indexed)
}

/// How the best node is found; the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ranking {
    /// Through the groups of `shape.rs` when the demand allows it.
    Indexed,
    /// By scoring every node: the reference the tests compare with.
    #[cfg_attr(not(test), allow(dead_code))]
    Scan,
}

pub(crate) fn schedule_with(snapshot: &Snapshot, pending: &[Pending], ranking: Ranking) -> Plan {
    let mut cluster = Cluster::build(snapshot);
    let mut decisions: Vec<(String, Decision)> = pending
        .iter()
        .map(|p| (p.id.clone(), decide(&mut cluster, &p.demand, ranking)))
        .collect();
    let mut retry: Vec<usize> = (0..pending.len())
        .filter(|&i| needs_company(&pending[i].demand) && is_unplaced(&decisions[i].1))
        .collect();
    while !retry.is_empty() {
        let mut progress = false;
        for &i in &retry {
            let decision = decide(&mut cluster, &pending[i].demand, ranking);
            progress |= !is_unplaced(&decision);
            decisions[i].1 = decision;
        }
        if !progress {
            break;
        }
        retry.retain(|&i| is_unplaced(&decisions[i].1));
    }
    Plan { decisions }
}

/// Places one demand, recording it in the cluster, or explains why not.
fn decide<'a>(cluster: &mut Cluster<'a>, demand: &'a Demand, ranking: Ranking) -> Decision {
    let prepared = rules::prepare(cluster, demand);
    let partition = match ranking {
        Ranking::Indexed => shape::partition(cluster, &prepared),
        Ranking::Scan => None,
    };
    let choice = match partition {
        Some(id) => shape::best(cluster, id, &prepared, cluster.strategy),
        None => rank::scan(cluster, &prepared, cluster.strategy),
    };
    match choice {
        Some(choice) => {
            let dropped_soft = prepared.dropped(choice.soft_kept);
            Decision::Place {
                node: cluster.place(choice.index, demand).to_string(),
                dropped_soft,
            }
        }
        None => Decision::Unplaced {
            reason: explain::why(&cluster.nodes, &prepared),
        },
    }
}

fn is_unplaced(decision: &Decision) -> bool {
    matches!(decision, Decision::Unplaced { .. })
}

/// Whether the demand needs another container on its node (a hard `==`
/// container or container label rule): it may fit once that one is placed.
fn needs_company(demand: &Demand) -> bool {
    demand.rules.iter().any(|rule| {
        rule.equal
            && rule.strength == Strength::Hard
            && matches!(
                rule.target,
                RuleTarget::ContainerLabel { .. } | RuleTarget::Instance { .. }
            )
    })
}

/// The schedulable nodes whose names pass the demand's hard placement rules
/// (node labels, name, role, container affinities, and the anti-affinity of
/// the instances already there), sorted by name. Ports, resources and
/// `max_per_node` are not checked; a pinned demand can only get its node.
///
/// The global-service controller uses it to decide which nodes get an instance.
pub fn eligible_nodes(snapshot: &Snapshot, demand: &Demand) -> Vec<String> {
    eligible_nodes_each(snapshot, std::slice::from_ref(demand))
        .pop()
        .unwrap_or_default()
}

/// [`eligible_nodes`] for each demand, in order, indexing the snapshot once
/// (the cost that matters: one pass over every placed instance).
pub fn eligible_nodes_each(snapshot: &Snapshot, demands: &[Demand]) -> Vec<Vec<String>> {
    let mut cluster = Cluster::build(snapshot);
    demands
        .iter()
        .map(|demand| {
            let prepared = rules::prepare(&mut cluster, demand);
            cluster
                .nodes
                .iter()
                .enumerate()
                .filter(|(index, _)| prepared.pinned.is_none_or(|pin| pin == Some(*index)))
                .filter(|(_, node)| feasible::check_rules(node, &prepared).is_ok())
                .map(|(_, node)| node.view.name.clone())
                .collect()
        })
        .collect()
}
