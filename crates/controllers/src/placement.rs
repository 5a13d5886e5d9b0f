//! Places pending instances: builds the scheduler's snapshot from nodes and
//! instances, asks the (pure) scheduler, and turns its plan into changes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use corral_scheduler::{Decision, Demand, NodeView, Pending, Placed, Snapshot, schedule};
use corral_types::{Instance, Node, NodeState, PlacementStrategy};

/// A change to one instance's placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlacementChange {
    Place {
        environment: String,
        name: String,
        node: String,
    },
    /// Still unplaced, for a reason different from the one it shows now.
    Unplaced {
        environment: String,
        name: String,
        reason: String,
    },
}

/// The label on a node that makes it a manager for `node.role` rules.
const ROLE_LABEL: &str = "io.corral.role";
/// Labels Corral puts on every container, besides the service's own.
const SERVICE_LABEL: &str = "io.corral.service";
const STACK_LABEL: &str = "io.corral.stack";

/// Where the demands of instances come from: the controllers' cache keeps
/// one per instance ([`crate::cache::Cache::demand_of`]); [`fresh_demand`]
/// derives it every time.
pub type DemandOf<'a> = &'a dyn Fn(&Instance) -> Arc<Demand>;

/// Derives `inst`'s demand anew.
pub fn fresh_demand(inst: &Instance) -> Arc<Demand> {
    Arc::new(demand(inst))
}

/// What `inst` asks of the scheduler.
pub(crate) fn demand(inst: &Instance) -> Demand {
    let launch = &inst.spec.launch;
    let mut labels = launch.container_labels.clone();
    labels.insert(SERVICE_LABEL.to_string(), inst.spec.service.clone());
    if !launch.stack.is_empty() {
        labels.insert(STACK_LABEL.to_string(), launch.stack.clone());
    }
    Demand {
        service: format!("{}/{}", inst.meta.environment, inst.spec.service),
        host_ports: launch.host_ports().collect(),
        cpu_millis: launch.resources.cpu_millis,
        memory_bytes: launch.resources.memory_bytes,
        rules: launch.placement.rules.clone(),
        spread_over: launch.placement.spread_over.clone(),
        max_per_node: launch.placement.max_per_node,
        instance: inst.meta.name.clone(),
        labels,
        // Global services set this.
        pinned_node: (!inst.spec.pinned_node.is_empty()).then(|| inst.spec.pinned_node.clone()),
    }
}

fn node_view(node: &Node) -> NodeView {
    let manager = node
        .meta
        .labels
        .get(ROLE_LABEL)
        .is_some_and(|r| r == "manager");
    NodeView {
        name: node.meta.name.clone(),
        schedulable: node.status.state == NodeState::Active
            && !node.spec.unschedulable
            && !node.spec.draining,
        labels: node.meta.labels.clone(),
        role: if manager { "manager" } else { "worker" }.to_string(),
        cpu_millis: node.status.cpu_millis,
        memory_bytes: node.status.memory_bytes,
    }
}

/// The nodes a global service should run on: schedulable nodes of its
/// environment that pass its hard placement rules, and the nodes that
/// already run one of its instances while they are disconnected or
/// cordoned (their instance stays, and resumes when the node comes back),
/// but never a draining node (its instance goes).
pub fn global_nodes(
    service: &corral_types::Service,
    nodes: &[&Node],
    instances: &[&Instance],
    demand_of: DemandOf,
) -> Vec<String> {
    let env = service.meta.environment.as_str();
    let hosting: std::collections::BTreeSet<&str> = instances
        .iter()
        .filter(|i| {
            i.meta.environment == env
                && i.spec.service == service.meta.name
                && !i.spec.removing
                && !i.spec.node.is_empty()
        })
        .map(|i| i.spec.node.as_str())
        .collect();
    let snapshot = Snapshot {
        nodes: nodes
            .iter()
            .filter(|n| n.meta.environment == env)
            .map(|n| {
                let mut view = node_view(n);
                view.schedulable = !n.spec.draining
                    && (view.schedulable || hosting.contains(n.meta.name.as_str()));
                view
            })
            .collect(),
        placed: instances
            .iter()
            .filter(|i| {
                i.meta.environment == env
                    && !i.spec.node.is_empty()
                    && i.spec.service != service.meta.name
            })
            .map(|i| Placed {
                node: i.spec.node.clone(),
                demand: demand_of(i),
            })
            .collect(),
        strategy: PlacementStrategy::default(),
    };
    corral_scheduler::eligible_nodes(&snapshot, &demand(&probe_of(service)))
}

/// [`global_nodes`] for several global services, indexing each
/// environment's placed instances once for all of them instead of once per
/// service. A service with a hard container rule (its own instances could
/// attract or repel it) still gets its own snapshot without them; for the
/// others the result is the same, because only such rules look at the
/// instances on a node.
pub fn global_nodes_each(
    services: &[&corral_types::Service],
    nodes: &[&Node],
    instances: &[&Instance],
    demand_of: DemandOf,
) -> Vec<Vec<String>> {
    let mut lists = vec![Vec::new(); services.len()];
    let mut shared: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (index, service) in services.iter().enumerate() {
        if has_container_rules(&service.spec) {
            lists[index] = global_nodes(service, nodes, instances, demand_of);
        } else {
            shared
                .entry(service.meta.environment.as_str())
                .or_default()
                .push(index);
        }
    }
    for (env, indexes) in shared {
        let wanted: BTreeSet<&str> = indexes
            .iter()
            .map(|&i| services[i].meta.name.as_str())
            .collect();
        let mut hosting: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut placed = Vec::new();
        for inst in instances
            .iter()
            .filter(|i| i.meta.environment == env && !i.spec.node.is_empty())
        {
            placed.push(Placed {
                node: inst.spec.node.clone(),
                demand: demand_of(inst),
            });
            if !inst.spec.removing && wanted.contains(inst.spec.service.as_str()) {
                hosting
                    .entry(inst.spec.service.as_str())
                    .or_default()
                    .insert(inst.spec.node.as_str());
            }
        }
        // Every node but a draining one may stay eligible (for the services
        // it hosts); the others' schedulability is applied below. Each view
        // is built once; its own schedulability is kept aside.
        let mut schedulable: BTreeSet<&str> = BTreeSet::new();
        let views: Vec<NodeView> = nodes
            .iter()
            .filter(|n| n.meta.environment == env)
            .map(|n| {
                let mut view = node_view(n);
                if view.schedulable {
                    schedulable.insert(n.meta.name.as_str());
                }
                view.schedulable = !n.spec.draining;
                view
            })
            .collect();
        let snapshot = Snapshot {
            nodes: views,
            placed,
            strategy: PlacementStrategy::default(),
        };
        let demands: Vec<Demand> = indexes
            .iter()
            .map(|&i| demand(&probe_of(services[i])))
            .collect();
        let eligible = corral_scheduler::eligible_nodes_each(&snapshot, &demands);
        for (&index, list) in indexes.iter().zip(eligible) {
            let hosts = hosting.get(services[index].meta.name.as_str());
            lists[index] = list
                .into_iter()
                .filter(|n| {
                    schedulable.contains(n.as_str())
                        || hosts.is_some_and(|h| h.contains(n.as_str()))
                })
                .collect();
        }
    }
    lists
}

/// Whether the service's launch config has a hard rule about the
/// containers on a node (affinity or anti-affinity to containers).
fn has_container_rules(spec: &corral_types::ServiceSpec) -> bool {
    spec.placement.rules.iter().any(|rule| {
        rule.strength == corral_types::Strength::Hard
            && matches!(
                rule.target,
                corral_types::RuleTarget::ContainerLabel { .. }
                    | corral_types::RuleTarget::Instance { .. }
            )
    })
}

/// An unplaced instance of `service`: what a new instance would ask for.
fn probe_of(service: &corral_types::Service) -> Instance {
    corral_types::Object::new(
        corral_types::Kind::Instance,
        &service.meta.environment,
        &service.meta.name,
        corral_types::InstanceSpec {
            service: service.meta.name.clone(),
            launch: service.spec.launch(),
            ..Default::default()
        },
    )
}

/// Places the pending instances of every environment on that environment's
/// nodes, with the environment's strategy from `strategies` (environment
/// name -> strategy; spread when missing).
pub fn plan_placement(
    nodes: &[&Node],
    instances: &[&Instance],
    strategies: &BTreeMap<String, PlacementStrategy>,
    demand_of: DemandOf,
) -> Vec<PlacementChange> {
    let mut by_env: BTreeMap<&str, (Snapshot, Vec<Pending>)> = BTreeMap::new();
    for node in nodes {
        let entry = by_env.entry(node.meta.environment.as_str()).or_default();
        entry.0.nodes.push(node_view(node));
    }
    let mut current_reason: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for inst in instances {
        let env = inst.meta.environment.as_str();
        let entry = by_env.entry(env).or_default();
        if !inst.spec.node.is_empty() {
            // Placed instances hold their ports and resources until they are gone,
            // removing or not.
            entry.0.placed.push(Placed {
                node: inst.spec.node.clone(),
                demand: demand_of(inst),
            });
        } else if !inst.spec.removing {
            entry.1.push(Pending {
                id: inst.meta.name.clone(),
                demand: demand(inst),
            });
            current_reason.insert((env, inst.meta.name.as_str()), inst.status.reason.as_str());
        }
    }
    let mut changes = Vec::new();
    for (env, (mut snapshot, mut pending)) in by_env {
        if pending.is_empty() {
            continue;
        }
        snapshot.strategy = strategies.get(env).copied().unwrap_or_default();
        pending.sort_by(|a, b| {
            a.demand
                .service
                .cmp(&b.demand.service)
                .then(ordinal_of(&a.id).cmp(&ordinal_of(&b.id)))
        });
        let plan = schedule(&snapshot, &pending);
        for (name, decision) in plan.decisions {
            match decision {
                Decision::Place { node, .. } => changes.push(PlacementChange::Place {
                    environment: env.to_string(),
                    name,
                    node,
                }),
                Decision::Unplaced { reason } => {
                    if current_reason.get(&(env, name.as_str())) != Some(&reason.as_str()) {
                        changes.push(PlacementChange::Unplaced {
                            environment: env.to_string(),
                            name,
                            reason,
                        });
                    }
                }
            }
        }
    }
    changes
}

/// The ordinal at the end of an instance name (`web-12` -> 12).
fn ordinal_of(name: &str) -> u32 {
    name.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{
        InstanceSpec, Kind, NodeSpec, Object, PlacementRule, RuleTarget, ServiceSpec, Strength,
    };

    fn plan(nodes: &[&Node], instances: &[&Instance]) -> Vec<PlacementChange> {
        plan_placement(nodes, instances, &BTreeMap::new(), &fresh_demand)
    }

    fn placed_on(changes: &[PlacementChange]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                PlacementChange::Place { node, .. } => node.clone(),
                PlacementChange::Unplaced { reason, .. } => format!("!{reason}"),
            })
            .collect()
    }

    fn node(name: &str) -> Node {
        let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
        n.status.state = NodeState::Active;
        n
    }

    fn instance(ordinal: u32, node: &str, port: u16) -> Instance {
        let launch = ServiceSpec {
            image: "img".into(),
            ports: vec![format!("{port}:80").parse().unwrap()],
            ..Default::default()
        };
        Object::new(
            Kind::Instance,
            "default",
            &format!("web-{ordinal}"),
            InstanceSpec {
                service: "web".into(),
                ordinal,
                node: node.into(),
                launch,
                service_generation: 1,
                removing: false,
                pinned_node: String::new(),
            },
        )
    }

    #[test]
    fn placed_instances_hold_their_ports_and_the_reason_is_recorded_once() {
        let n1 = node("n1");
        let a = instance(1, "n1", 8080);
        let mut b = instance(2, "", 8080);
        let changes = plan(&[&n1], &[&a, &b]);
        let reason = "port 8080/tcp in use on all 1 nodes".to_string();
        assert_eq!(
            changes,
            vec![PlacementChange::Unplaced {
                environment: "default".into(),
                name: "web-2".into(),
                reason: reason.clone()
            }]
        );
        b.status.reason = reason;
        assert!(plan(&[&n1], &[&a, &b]).is_empty());
    }

    #[test]
    fn instances_only_go_to_nodes_of_their_environment() {
        let mut other = node("n2");
        other.meta.environment = "other".into();
        let a = instance(1, "", 8080);
        let changes = plan(&[&other], &[&a]);
        assert!(
            matches!(&changes[0], PlacementChange::Unplaced { reason, .. } if reason.contains("no nodes"))
        );
    }

    #[test]
    fn pending_instances_are_placed_in_ordinal_order() {
        let n1 = node("n1");
        let a = instance(10, "", 8080);
        let b = instance(2, "", 8080);
        let changes = plan(&[&n1], &[&a, &b]);
        assert_eq!(
            changes[0],
            PlacementChange::Place {
                environment: "default".into(),
                name: "web-2".into(),
                node: "n1".into()
            }
        );
    }

    #[test]
    fn the_environment_strategy_is_used() {
        let (n1, n2) = (node("n1"), node("n2"));
        let busy = instance(1, "n2", 8080);
        let a = instance(2, "", 9090);
        let spread = plan(&[&n1, &n2], &[&busy, &a]);
        assert_eq!(placed_on(&spread), ["n1"]);
        let binpack = BTreeMap::from([("default".to_string(), PlacementStrategy::Binpack)]);
        let packed = plan_placement(&[&n1, &n2], &[&busy, &a], &binpack, &fresh_demand);
        assert_eq!(placed_on(&packed), ["n2"]);
    }

    #[test]
    fn placement_rules_roles_and_container_labels_reach_the_scheduler() {
        let mut manager = node("m");
        manager
            .meta
            .labels
            .insert("io.corral.role".into(), "manager".into());
        let worker = node("w");
        let rule = |target, equal| PlacementRule {
            target,
            equal,
            strength: Strength::Hard,
        };
        let mut on_manager = instance(1, "", 8080);
        on_manager.spec.launch.placement.rules = vec![rule(
            RuleTarget::NodeRole {
                value: "manager".into(),
            },
            true,
        )];
        assert_eq!(
            placed_on(&plan(&[&manager, &worker], &[&on_manager])),
            ["m"]
        );
        // `io.corral.service` is a container label of every instance.
        let db = Object::new(
            Kind::Instance,
            "default",
            "db-1",
            InstanceSpec {
                service: "db".into(),
                node: "w".into(),
                ..instance(1, "w", 5432).spec
            },
        );
        let mut near_db = instance(2, "", 8080);
        near_db.spec.launch.placement.rules = vec![rule(
            RuleTarget::ContainerLabel {
                key: "io.corral.service".into(),
                value: "db".into(),
            },
            true,
        )];
        assert_eq!(
            placed_on(&plan(&[&manager, &worker], &[&db, &near_db])),
            ["w"]
        );
        let mut far = instance(3, "", 8081);
        far.spec.launch.placement.rules = vec![rule(
            RuleTarget::NodeLabel {
                key: "disk".into(),
                value: "ssd".into(),
            },
            true,
        )];
        assert_eq!(
            placed_on(&plan(&[&manager, &worker], &[&far])),
            ["!host label disk=ssd missing on all 2 nodes"]
        );
    }

    #[test]
    fn pinned_instances_only_go_to_their_node() {
        let (n1, n2) = (node("n1"), node("n2"));
        let mut a = instance(1, "", 8080);
        a.spec.pinned_node = "n2".into();
        assert_eq!(placed_on(&plan(&[&n1, &n2], &[&a])), ["n2"]);
    }

    #[test]
    fn a_global_service_keeps_its_disconnected_and_cordoned_nodes_but_not_draining_ones() {
        let service: corral_types::Service = Object::new(
            Kind::Service,
            "default",
            "web",
            ServiceSpec {
                image: "img".into(),
                mode: corral_types::ServiceMode::Global,
                ..Default::default()
            },
        );
        let active = node("n1");
        let mut lost = node("n2");
        lost.status.state = NodeState::Disconnected;
        let mut cordoned = node("n3");
        cordoned.spec.unschedulable = true;
        let mut draining = node("n4");
        draining.spec.unschedulable = true;
        draining.spec.draining = true;
        let mut lost_empty = node("n5");
        lost_empty.status.state = NodeState::Disconnected;
        let on = |n: &str, ordinal| {
            let mut i = instance(ordinal, n, 8080);
            i.spec.launch.ports.clear();
            i
        };
        let (a, b, c, d) = (on("n1", 1), on("n2", 2), on("n3", 3), on("n4", 4));
        let nodes = [&active, &lost, &cordoned, &draining, &lost_empty];
        assert_eq!(
            global_nodes(&service, &nodes, &[&a, &b, &c, &d], &fresh_demand),
            ["n1", "n2", "n3"]
        );
    }

    #[test]
    fn global_nodes_for_many_services_at_once_match_one_service_at_a_time() {
        let hard = |target, equal| PlacementRule {
            target,
            equal,
            strength: Strength::Hard,
        };
        let global = |name: &str, rules: Vec<PlacementRule>| -> corral_types::Service {
            let mut spec = ServiceSpec {
                image: "img".into(),
                mode: corral_types::ServiceMode::Global,
                ..Default::default()
            };
            spec.placement.rules = rules;
            Object::new(Kind::Service, "default", name, spec)
        };
        let web = global("web", vec![]);
        let ssd = global(
            "ssd",
            vec![hard(
                RuleTarget::NodeLabel {
                    key: "disk".into(),
                    value: "ssd".into(),
                },
                true,
            )],
        );
        let near = global(
            "near",
            vec![hard(
                RuleTarget::ContainerLabel {
                    key: "io.corral.service".into(),
                    value: "db".into(),
                },
                true,
            )],
        );
        let mut lost = node("n2");
        lost.status.state = NodeState::Disconnected;
        let mut cordoned = node("n3");
        cordoned.spec.unschedulable = true;
        let mut draining = node("n4");
        draining.spec.draining = true;
        let mut fast = node("n5");
        fast.meta.labels.insert("disk".into(), "ssd".into());
        let n6 = node("n6");
        let on = |n: &str, ordinal| {
            let mut i = instance(ordinal, n, 8080);
            i.spec.launch.ports.clear();
            i
        };
        let (a, b, c, d) = (on("n1", 1), on("n2", 2), on("n3", 3), on("n4", 4));
        // A db on n5 that keeps web away.
        let mut db = on("n5", 1);
        db.meta.name = "db-1".into();
        db.spec.service = "db".into();
        db.spec.launch.placement.rules =
            vec![hard(RuleTarget::Instance { name: "web".into() }, false)];
        let nodes = [&node("n1"), &lost, &cordoned, &draining, &fast, &n6];
        let instances = [&a, &b, &c, &d, &db];
        let services = [&web, &ssd, &near];
        let one_by_one: Vec<Vec<String>> = services
            .iter()
            .map(|s| global_nodes(s, &nodes, &instances, &fresh_demand))
            .collect();
        let at_once = global_nodes_each(&services, &nodes, &instances, &fresh_demand);
        assert_eq!(at_once, one_by_one);
        assert_eq!(at_once[0], ["n1", "n2", "n3", "n6"]);
        assert_eq!(at_once[1], ["n5"]);
        assert_eq!(at_once[2], ["n5"]);
    }
}
