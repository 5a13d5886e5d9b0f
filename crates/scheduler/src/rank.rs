//! Score and select: soft rules, spread over label values, then the strategy.

use corral_types::PlacementStrategy;

use crate::feasible;
use crate::rules::{MAX_SPREAD_KEYS, Prepared};
use crate::state::{Cluster, NodeState, ValueCounts};

/// Per `spread_over` key, the counts of the demand's service.
type Tables<'t, 'a> = [(&'t str, Option<&'t ValueCounts<'a>>)];

/// A node's score for one demand; lowest wins, then the node name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    /// Soft rules dropped to take the node: those after the first one it fails.
    soft_dropped: usize,
    /// Instances of the service on nodes with the same label value, per
    /// `spread_over` key.
    spread: [u32; MAX_SPREAD_KEYS],
    /// Spread: replicas of the service, then instances, on the node.
    /// Bin-pack: the complement of the node's allocation, then of its instances.
    load: (u64, u64),
}

/// Nothing scores lower under the spread strategy.
const PERFECT: Score = Score {
    soft_dropped: 0,
    spread: [0; MAX_SPREAD_KEYS],
    load: (0, 0),
};

/// Where the demand goes: the node's position, and how many soft rules
/// (from the first) are kept.
pub(crate) struct Choice {
    pub(crate) index: usize,
    pub(crate) soft_kept: usize,
}

/// The best feasible node for `demand`, or `None` when no node can take it,
/// by scoring every node: for the demands [`crate::shape`] does not index,
/// and the reference its choices are tested against.
///
/// O(nodes × rules): the score is computed before the feasibility check, so
/// nodes that could not win are never checked, and under spread the scan
/// stops at the first node with a perfect score.
pub(crate) fn scan(
    cluster: &Cluster<'_>,
    demand: &Prepared<'_>,
    strategy: PlacementStrategy,
) -> Option<Choice> {
    let tables: Vec<_> = demand
        .spread_over
        .iter()
        .map(|&key| (key, cluster.spread_counts(demand.service, key)))
        .collect();
    let candidates = match demand.pinned {
        Some(Some(index)) => index..index + 1,
        Some(None) => 0..0,
        None => 0..cluster.nodes.len(),
    };
    let mut best: Option<(Score, usize)> = None;
    for index in candidates {
        let node = &cluster.nodes[index];
        if !node.view.schedulable {
            continue;
        }
        let score = score(node, demand, &tables, strategy);
        if best.is_some_and(|(top, _)| score >= top) {
            continue;
        }
        if feasible::check(node, demand).is_err() {
            continue;
        }
        best = Some((score, index));
        if score == PERFECT {
            // Nothing scores lower, and later nodes lose the tie by name.
            break;
        }
    }
    best.map(|(score, index)| Choice {
        index,
        soft_kept: demand.soft.len() - score.soft_dropped,
    })
}

fn score(
    node: &NodeState<'_>,
    demand: &Prepared<'_>,
    tables: &Tables<'_, '_>,
    strategy: PlacementStrategy,
) -> Score {
    let mut spread = [0; MAX_SPREAD_KEYS];
    for (slot, (key, table)) in spread.iter_mut().zip(tables) {
        let value = node.view.labels.get(*key).map(String::as_str);
        *slot = table.and_then(|t| t.get(&value)).copied().unwrap_or(0);
    }
    let load = match strategy {
        PlacementStrategy::Spread => (u64::from(node.replicas_of(demand.service)), node.instances),
        PlacementStrategy::Binpack => (u64::MAX - node.allocation_ppm(), u64::MAX - node.instances),
    };
    Score {
        soft_dropped: demand.soft.len() - demand.soft_prefix(node),
        spread,
        load,
    }
}
