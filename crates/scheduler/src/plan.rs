//! `schedule`: filter, score, select, one pending instance after the other.

use crate::state::Cluster;
use crate::{Decision, Pending, Plan, Snapshot, explain, rank};

/// Places each pending instance, in the order given, on the best feasible
/// node, or says why it cannot be placed.
///
/// Pure and deterministic: no clock, no IO, ties broken by node name.
/// Decisions made earlier in the plan count for the later ones (their ports,
/// resources and replicas are taken into account).
///
/// Cost: O(nodes log nodes + placed) to index the snapshot once, then O(nodes)
/// per pending instance (twice for an instance that stays unplaced: once to
/// look for a node, once to explain).
pub fn schedule(snapshot: &Snapshot, pending: &[Pending]) -> Plan {
    let mut cluster = Cluster::build(snapshot);
    let mut decisions = Vec::with_capacity(pending.len());
    for instance in pending {
        let demand = &instance.demand;
        let service = cluster.service_id(&demand.service);
        let decision = match rank::best(&cluster.nodes, demand, service) {
            Some(index) => Decision::Place {
                node: cluster.place(index, demand, service).to_string(),
            },
            None => Decision::Unplaced {
                reason: explain::why(&cluster.nodes, demand),
            },
        };
        decisions.push((instance.id.clone(), decision));
    }
    Plan { decisions }
}
