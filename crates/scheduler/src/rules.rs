//! A demand made ready for one placement: its rules resolved against the
//! cluster's interned names, so checking a node costs a few lookups.

use corral_types::{PlacementRule, RuleTarget, Strength};

use crate::Demand;
use crate::state::{Cluster, Id, NodeState, own_names};

/// The most `spread_over` keys that count.
pub(crate) const MAX_SPREAD_KEYS: usize = 4;

/// What a rule looks for on a node.
enum Target<'d> {
    NodeLabel(&'d str, &'d str),
    NodeName(&'d str),
    NodeRole(&'d str),
    /// `None`: no instance anywhere has the label pair.
    ContainerLabel(Option<Id>),
    /// `None`: no instance anywhere has the name.
    Instance(Option<Id>),
}

/// One rule, resolved.
pub(crate) struct Test<'d> {
    /// The rule's position in `demand.rules`.
    pub(crate) index: usize,
    target: Target<'d>,
    equal: bool,
}

impl<'d> Test<'d> {
    /// Whether the node satisfies the rule.
    pub(crate) fn holds(&self, node: &NodeState<'_>) -> bool {
        let found = match self.target {
            Target::NodeLabel(key, value) => node.view.labels.get(key).is_some_and(|v| v == value),
            Target::NodeName(name) => node.view.name == name,
            Target::NodeRole(role) => node.view.role == role,
            Target::ContainerLabel(label) => label.is_some_and(|id| node.has_label(id)),
            Target::Instance(name) => name.is_some_and(|id| node.has_name(id)),
        };
        found == self.equal
    }

    /// The rule as a key when it looks at the node alone (its labels, name or
    /// role): then it holds or not for good, whatever is placed.
    pub(crate) fn node_only(&self) -> Option<NodeRule<'d>> {
        match self.target {
            Target::NodeLabel(key, value) => Some(NodeRule::Label(key, value, self.equal)),
            Target::NodeName(name) => Some(NodeRule::Name(name, self.equal)),
            Target::NodeRole(role) => Some(NodeRule::Role(role, self.equal)),
            Target::ContainerLabel(_) | Target::Instance(_) => None,
        }
    }

    /// Whether the rule needs a container on the node (`==` container or
    /// container label): few nodes pass it, and more as the plan goes on.
    pub(crate) fn needs_company(&self) -> bool {
        self.equal && self.node_only().is_none()
    }
}

/// A rule on the node alone, as a key: `(key, value, equal)`, `(name, equal)`,
/// `(role, equal)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum NodeRule<'d> {
    Label(&'d str, &'d str, bool),
    Name(&'d str, bool),
    Role(&'d str, bool),
}

/// A demand with its rules resolved.
pub(crate) struct Prepared<'d> {
    pub(crate) demand: &'d Demand,
    pub(crate) service: Id,
    pub(crate) hard: Vec<Test<'d>>,
    /// In the order given: the last one is dropped first.
    pub(crate) soft: Vec<Test<'d>>,
    /// The demand's label pairs and names that some node may repel.
    pub(crate) labels: Vec<Id>,
    pub(crate) names: Vec<Id>,
    /// The `spread_over` keys used (at most [`MAX_SPREAD_KEYS`]).
    pub(crate) spread_over: Vec<&'d str>,
    /// `Some` for a pinned demand: the node's position, `None` if it is unknown.
    pub(crate) pinned: Option<Option<usize>>,
}

impl Prepared<'_> {
    /// Whether an instance on the node excludes this demand with a hard `!=` rule.
    pub(crate) fn repelled_by(&self, node: &NodeState<'_>) -> bool {
        (!node.repels_labels.is_empty()
            && self
                .labels
                .iter()
                .any(|id| node.repels_labels.contains_key(id)))
            || (!node.repels_names.is_empty()
                && self
                    .names
                    .iter()
                    .any(|id| node.repels_names.contains_key(id)))
    }

    /// How many soft rules, from the first, the node satisfies.
    pub(crate) fn soft_prefix(&self, node: &NodeState<'_>) -> usize {
        self.soft
            .iter()
            .position(|test| !test.holds(node))
            .unwrap_or(self.soft.len())
    }

    /// The soft rules after the first `kept`, as dropped to place the demand.
    pub(crate) fn dropped(&self, kept: usize) -> Vec<String> {
        self.soft
            .iter()
            .skip(kept)
            .filter_map(|test| self.demand.rules.get(test.index))
            .map(PlacementRule::to_string)
            .collect()
    }
}

/// Resolves `demand` against the cluster, and starts tracking its
/// `spread_over` counts.
pub(crate) fn prepare<'d>(cluster: &mut Cluster<'d>, demand: &'d Demand) -> Prepared<'d> {
    let service = cluster.service_id(&demand.service);
    let spread_over: Vec<&str> = demand
        .spread_over
        .iter()
        .take(MAX_SPREAD_KEYS)
        .map(String::as_str)
        .collect();
    for key in &spread_over {
        cluster.track_spread(service, key);
    }
    let (mut hard, mut soft) = (Vec::new(), Vec::new());
    for (index, rule) in demand.rules.iter().enumerate() {
        let test = Test {
            index,
            target: resolve(cluster, &rule.target),
            equal: rule.equal,
        };
        match rule.strength {
            Strength::Hard => hard.push(test),
            Strength::Soft => soft.push(test),
        }
    }
    Prepared {
        demand,
        service,
        hard,
        soft,
        labels: demand
            .labels
            .iter()
            .filter_map(|(k, v)| cluster.label_id(k, v))
            .collect(),
        names: own_names(demand)
            .filter_map(|name| cluster.name_id(name))
            .collect(),
        spread_over,
        pinned: demand.pinned_node.as_deref().map(|n| cluster.index_of(n)),
    }
}

fn resolve<'d>(cluster: &Cluster<'d>, target: &'d RuleTarget) -> Target<'d> {
    match target {
        RuleTarget::NodeLabel { key, value } => Target::NodeLabel(key, value),
        RuleTarget::NodeName { value } => Target::NodeName(value),
        RuleTarget::NodeRole { value } => Target::NodeRole(value),
        RuleTarget::ContainerLabel { key, value } => {
            Target::ContainerLabel(cluster.label_id(key, value))
        }
        RuleTarget::Instance { name } => Target::Instance(cluster.name_id(name)),
    }
}
