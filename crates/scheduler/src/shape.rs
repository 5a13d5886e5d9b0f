//! The nodes grouped by what a demand's node rules and `spread_over` keys
//! see, and kept in score order, so a placement looks at a few cells and the
//! best nodes of each instead of scoring every node.
//!
//! A demand's *shape* is what of it depends on the node alone: its hard node
//! rules (labels, name, role), its soft rules when they are all node rules,
//! and its `spread_over` keys. Demands of one shape (every replica of a
//! service, and often many services) share one [`Partition`] of the
//! schedulable nodes passing the hard node rules into cells of the same soft
//! rules kept and the same `spread_over` label values. Within a cell the
//! soft-rule and spread parts of the score are equal, so the cells are
//! ranked first (a few lookups each), then each cell's nodes are walked in
//! the order of the strategy's part of the score, from the best, until the
//! first feasible node, skipping the runs of nodes without the CPU or memory
//! the demand needs ([`Order`]). Every partition is kept in order as the plan
//! places instances (a removal and an insertion per partition holding the
//! node).
//!
//! The order is the same for every service: bin-pack's part of the score
//! (allocation, instances) is. Spread's starts with the replicas of the
//! demand's own service on the node, so cells are kept by `(instances,
//! position)` and the walk passes the nodes holding replicas (at most the
//! service's instance count): the first feasible node without one wins,
//! and those with replicas only count when there is none.
//!
//! Demands whose score or feasibility depends on the placements in another
//! way than through a node's counters go through [`crate::rank::scan`]
//! instead: pinned demands (one node to look at), soft container rules, and
//! hard `==` container rules (few nodes pass them). So do shapes cut into
//! more cells than is worth it, and shapes beyond [`MAX_PARTITIONS`].

use std::collections::HashMap;
use std::ops::ControlFlow;

use corral_types::PlacementStrategy;

use crate::feasible;
use crate::order::{Order, Room};
use crate::rank::Choice;
use crate::rules::{MAX_SPREAD_KEYS, NodeRule, Prepared};
use crate::state::{Cluster, NodeState};

/// A node's place in the cells holding it, lowest first; the strategy's part
/// of the score, then the node's position (its name order):
/// spread `(instances, 0, position)`, bin-pack
/// `(MAX - allocation, MAX - instances, position)`.
pub(crate) type Key = (u64, u64, usize);

/// At most this many partitions are kept: each costs two set operations per
/// placement on one of its nodes. Further shapes are scanned.
const MAX_PARTITIONS: usize = 64;

/// A partition into more than this many cells, averaging fewer than
/// [`MIN_NODES_PER_CELL`] nodes each, is not worth keeping.
const MAX_SMALL_CELLS: usize = 64;
const MIN_NODES_PER_CELL: usize = 4;

/// Not in any cell of a partition.
const NONE: u32 = u32::MAX;

/// What of a demand depends on the node alone.
#[derive(PartialEq, Eq, Hash)]
struct ShapeKey<'a> {
    hard: Vec<NodeRule<'a>>,
    soft: Vec<NodeRule<'a>>,
    spread: Vec<&'a str>,
}

/// The nodes with the same soft rules kept and the same `spread_over` values.
struct Cell<'a> {
    /// How many soft rules, from the first, its nodes satisfy.
    soft_kept: usize,
    /// The nodes' value of each `spread_over` key (`None`: no such label).
    values: [Option<&'a str>; MAX_SPREAD_KEYS],
    nodes: Order,
}

/// The schedulable nodes passing a shape's hard node rules, in cells.
struct Partition<'a> {
    /// Per node position: its cell, or [`NONE`].
    cell_of: Vec<u32>,
    cells: Vec<Cell<'a>>,
}

/// Every partition made so far, by shape.
#[derive(Default)]
pub(crate) struct Shapes<'a> {
    /// `None`: the shape is scanned.
    ids: HashMap<ShapeKey<'a>, Option<usize>>,
    partitions: Vec<Partition<'a>>,
}

impl<'a> Shapes<'a> {
    /// Moves the node at `position` from `old` to `new` (with `room` left)
    /// in every cell holding it.
    pub(crate) fn moved(&mut self, position: usize, old: Key, new: Key, room: Room) {
        for partition in &mut self.partitions {
            let cell = partition.cell_of[position];
            if let Some(cell) = partition.cells.get_mut(cell as usize) {
                cell.nodes.remove(old);
                cell.nodes.insert(new, room);
            }
        }
    }
}

/// The partition for `demand`'s shape (made on first use, in O(nodes ×
/// rules)), or `None` when the demand is to be scanned.
pub(crate) fn partition<'a>(cluster: &mut Cluster<'a>, demand: &Prepared<'a>) -> Option<usize> {
    if demand.pinned.is_some() || demand.hard.iter().any(|test| test.needs_company()) {
        return None;
    }
    let soft = demand
        .soft
        .iter()
        .map(|test| test.node_only())
        .collect::<Option<Vec<_>>>()?;
    let key = ShapeKey {
        // The hard `!=` container rules are left to the feasibility check.
        hard: demand
            .hard
            .iter()
            .filter_map(|test| test.node_only())
            .collect(),
        soft,
        spread: demand.spread_over.clone(),
    };
    if let Some(&id) = cluster.shapes.ids.get(&key) {
        return id;
    }
    let id = (cluster.shapes.partitions.len() < MAX_PARTITIONS)
        .then(|| build(&cluster.nodes, cluster.strategy, demand))
        .flatten()
        .map(|partition| {
            cluster.shapes.partitions.push(partition);
            cluster.shapes.partitions.len() - 1
        });
    cluster.shapes.ids.insert(key, id);
    id
}

fn build<'a>(
    nodes: &[NodeState<'a>],
    strategy: PlacementStrategy,
    demand: &Prepared<'_>,
) -> Option<Partition<'a>> {
    let mut cell_of = vec![NONE; nodes.len()];
    let mut cells: Vec<Cell<'a>> = Vec::new();
    let mut ids: HashMap<(usize, [Option<&'a str>; MAX_SPREAD_KEYS]), u32> = HashMap::new();
    let mut members = 0;
    for (position, node) in nodes.iter().enumerate() {
        let passes = node.view.schedulable
            && demand
                .hard
                .iter()
                .filter(|test| test.node_only().is_some())
                .all(|test| test.holds(node));
        if !passes {
            continue;
        }
        let soft_kept = demand.soft_prefix(node);
        let mut values = [None; MAX_SPREAD_KEYS];
        for (slot, key) in values.iter_mut().zip(&demand.spread_over) {
            *slot = node.view.labels.get(*key).map(String::as_str);
        }
        let next = u32::try_from(cells.len()).unwrap_or(NONE);
        let cell = *ids.entry((soft_kept, values)).or_insert(next);
        if cell == next {
            cells.push(Cell {
                soft_kept,
                values,
                nodes: Order::new(),
            });
        }
        let Some(slot) = cells.get_mut(cell as usize) else {
            // More cells than u32 can count: not worth it anyway.
            return None;
        };
        slot.nodes.insert(node.key(strategy, position), node.room());
        cell_of[position] = cell;
        members += 1;
    }
    if cells.len() > MAX_SMALL_CELLS && cells.len() * MIN_NODES_PER_CELL > members {
        return None;
    }
    Some(Partition { cell_of, cells })
}

/// A cell's score before the strategy's part: soft rules dropped, then the
/// instances of the service per `spread_over` value.
type Prefix = (usize, [u32; MAX_SPREAD_KEYS]);

/// The best feasible node for `demand` in partition `id`: the same node as
/// [`crate::rank::scan`] picks.
pub(crate) fn best(
    cluster: &Cluster<'_>,
    id: usize,
    demand: &Prepared<'_>,
    strategy: PlacementStrategy,
) -> Option<Choice> {
    let partition = cluster.shapes.partitions.get(id)?;
    let tables: Vec<_> = demand
        .spread_over
        .iter()
        .map(|&key| cluster.spread_counts(demand.service, key))
        .collect();
    let mut ranked: Vec<(Prefix, usize)> = partition
        .cells
        .iter()
        .enumerate()
        .map(|(index, cell)| {
            let mut spread = [0; MAX_SPREAD_KEYS];
            for ((slot, table), value) in spread.iter_mut().zip(&tables).zip(&cell.values) {
                *slot = table.and_then(|t| t.get(value)).copied().unwrap_or(0);
            }
            ((demand.soft.len() - cell.soft_kept, spread), index)
        })
        .collect();
    // Most placements are settled in the best group of cells: find it in one
    // pass, and sort the rest only when none of its nodes is feasible.
    let top = ranked.iter().map(|(prefix, _)| *prefix).min()?;
    if let Some(choice) = best_of_group(cluster, partition, &ranked, top, demand, strategy) {
        return Some(choice);
    }
    ranked.retain(|(prefix, _)| *prefix != top);
    ranked.sort_unstable();
    let mut start = 0;
    while let Some(&(prefix, _)) = ranked.get(start) {
        let end = start
            + ranked[start..]
                .iter()
                .take_while(|(p, _)| *p == prefix)
                .count();
        if let Some(choice) = best_of_group(
            cluster,
            partition,
            &ranked[start..end],
            prefix,
            demand,
            strategy,
        ) {
            return Some(choice);
        }
        start = end;
    }
    None
}

/// The best feasible node among the cells ranked `prefix`.
fn best_of_group(
    cluster: &Cluster<'_>,
    partition: &Partition<'_>,
    ranked: &[(Prefix, usize)],
    prefix: Prefix,
    demand: &Prepared<'_>,
    strategy: PlacementStrategy,
) -> Option<Choice> {
    let mut best: Option<(Key, usize)> = None;
    for &(_, index) in ranked.iter().filter(|(p, _)| *p == prefix) {
        let cell = &partition.cells[index];
        let found = match strategy {
            PlacementStrategy::Spread => best_spread(cluster, cell, demand),
            PlacementStrategy::Binpack => best_binpack(cluster, cell, demand),
        };
        if let Some(found) = found
            && best.is_none_or(|(top, _)| found < top)
        {
            best = Some((found, index));
        }
    }
    best.map(|((_, _, position), cell)| Choice {
        index: position,
        soft_kept: partition.cells[cell].soft_kept,
    })
}

/// What the demand needs of a node's [`Room`].
fn need(demand: &Prepared<'_>) -> Room {
    (demand.demand.cpu_millis, demand.demand.memory_bytes)
}

/// Spread: the lowest `(replicas, instances, position)` among the cell's
/// feasible nodes. The cell is walked by `(instances, position)`: the first
/// feasible node without a replica wins, and nodes with replicas only count
/// when there is none.
fn best_spread(cluster: &Cluster<'_>, cell: &Cell<'_>, demand: &Prepared<'_>) -> Option<Key> {
    let mut without: Option<Key> = None;
    let mut with_replicas: Option<Key> = None;
    cell.nodes
        .walk(need(demand), &mut |(instances, _, position)| {
            let node = &cluster.nodes[position];
            let replicas = u64::from(node.replicas_of(demand.service));
            let key = (replicas, instances, position);
            if replicas == 0 {
                if feasible::check(node, demand).is_ok() {
                    without = Some(key);
                    return ControlFlow::Break(());
                }
            } else if with_replicas.is_none_or(|top| key < top)
                && feasible::check(node, demand).is_ok()
            {
                with_replicas = Some(key);
            }
            ControlFlow::Continue(())
        });
    without.or(with_replicas)
}

/// Bin-pack: the cell's first feasible node, its order being the score's.
fn best_binpack(cluster: &Cluster<'_>, cell: &Cell<'_>, demand: &Prepared<'_>) -> Option<Key> {
    let mut found = None;
    cell.nodes.walk(need(demand), &mut |key| {
        if feasible::check(&cluster.nodes[key.2], demand).is_ok() {
            found = Some(key);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    found
}
