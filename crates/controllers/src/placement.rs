//! Places pending instances: builds the scheduler's snapshot from nodes and
//! instances, asks the (pure) scheduler, and turns its plan into changes.

use std::collections::BTreeMap;

use corral_scheduler::{Decision, Demand, NodeView, Pending, Placed, Snapshot, schedule};
use corral_types::{Instance, Node, NodeState};

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

fn demand(inst: &Instance) -> Demand {
    Demand {
        service: format!("{}/{}", inst.meta.environment, inst.spec.service),
        host_ports: inst.spec.launch.host_ports().collect(),
        cpu_millis: inst.spec.launch.resources.cpu_millis,
        memory_bytes: inst.spec.launch.resources.memory_bytes,
    }
}

fn node_view(node: &Node) -> NodeView {
    NodeView {
        name: node.meta.name.clone(),
        schedulable: node.status.state == NodeState::Active && !node.spec.unschedulable,
        labels: node.meta.labels.clone(),
        cpu_millis: node.status.cpu_millis,
        memory_bytes: node.status.memory_bytes,
    }
}

/// Places the pending instances of every environment on that environment's nodes.
pub fn plan_placement(nodes: &[&Node], instances: &[&Instance]) -> Vec<PlacementChange> {
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
                demand: demand(inst),
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
    for (env, (snapshot, mut pending)) in by_env {
        if pending.is_empty() {
            continue;
        }
        pending.sort_by(|a, b| {
            a.demand
                .service
                .cmp(&b.demand.service)
                .then(ordinal_of(&a.id).cmp(&ordinal_of(&b.id)))
        });
        let plan = schedule(&snapshot, &pending);
        for (name, decision) in plan.decisions {
            match decision {
                Decision::Place { node } => changes.push(PlacementChange::Place {
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
    use corral_types::{InstanceSpec, Kind, NodeSpec, Object, ServiceSpec};

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
            },
        )
    }

    #[test]
    fn placed_instances_hold_their_ports_and_the_reason_is_recorded_once() {
        let n1 = node("n1");
        let a = instance(1, "n1", 8080);
        let mut b = instance(2, "", 8080);
        let changes = plan_placement(&[&n1], &[&a, &b]);
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
        assert!(plan_placement(&[&n1], &[&a, &b]).is_empty());
    }

    #[test]
    fn instances_only_go_to_nodes_of_their_environment() {
        let mut other = node("n2");
        other.meta.environment = "other".into();
        let a = instance(1, "", 8080);
        let changes = plan_placement(&[&other], &[&a]);
        assert!(
            matches!(&changes[0], PlacementChange::Unplaced { reason, .. } if reason.contains("no nodes"))
        );
    }

    #[test]
    fn pending_instances_are_placed_in_ordinal_order() {
        let n1 = node("n1");
        let a = instance(10, "", 8080);
        let b = instance(2, "", 8080);
        let changes = plan_placement(&[&n1], &[&a, &b]);
        assert_eq!(
            changes[0],
            PlacementChange::Place {
                environment: "default".into(),
                name: "web-2".into(),
                node: "n1".into()
            }
        );
    }
}
