//! Rescheduling off lost nodes. A node silent for its disconnect time plus
//! [`ControllerConfig::reschedule_after`](crate::ControllerConfig) is lost:
//! the instances of replicated services on it are deleted, so the service
//! plan makes replacements and the scheduler places them on live nodes (a
//! lost node is not schedulable: it was marked disconnected first). If the
//! node comes back, its agent finds the old containers without an instance
//! and removes them. Global services stay (one per node by definition), and
//! so do finished jobs (deleting them would run them again).
//!
//! When more than half of an environment's nodes are disconnected, nothing
//! of it moves: that looks like the control plane or the network failing
//! (or a server too busy to take heartbeats), not hosts dying, and moving
//! everything onto the few nodes left would make it worse (Kubernetes'
//! node lifecycle controller stops evicting in the same case).

use std::time::{Duration, Instant};

use corral_types::{Instance, InstanceState, Node, NodeState, ServiceMode};

/// An instance to delete: (environment, name, revision read).
pub type Eviction = (String, String, u64);

/// The instances to take off nodes that have been silent longer than `lost_after`.
pub fn plan_evacuation(
    nodes: &[&Node],
    instances: &[&Instance],
    last_seen: impl Fn(&Node) -> Instant,
    now: Instant,
    lost_after: Duration,
) -> Vec<Eviction> {
    let mut totals: std::collections::HashMap<&str, (usize, usize)> = Default::default();
    for n in nodes {
        let entry = totals.entry(n.meta.environment.as_str()).or_default();
        entry.0 += 1;
        if n.status.state == NodeState::Disconnected {
            entry.1 += 1;
        }
    }
    let lost: std::collections::HashSet<(&str, &str)> = nodes
        .iter()
        .filter(|n| {
            let (all, disconnected) = totals
                .get(n.meta.environment.as_str())
                .copied()
                .unwrap_or_default();
            n.status.state == NodeState::Disconnected
                && disconnected * 2 <= all
                && now.saturating_duration_since(last_seen(n)) > lost_after
        })
        .map(|n| (n.meta.environment.as_str(), n.meta.name.as_str()))
        .collect();
    if lost.is_empty() {
        return Vec::new();
    }
    instances
        .iter()
        .filter(|i| lost.contains(&(i.meta.environment.as_str(), i.spec.node.as_str())))
        .filter(|i| i.spec.launch.mode == ServiceMode::Replicated)
        .filter(|i| !finished_job(i))
        .map(|i| {
            (
                i.meta.environment.clone(),
                i.meta.name.clone(),
                i.meta.revision,
            )
        })
        .collect()
}

/// The instances placed on nodes that no longer exist (`corral node rm`):
/// deleted at once, whatever their mode, so that their replacements are
/// placed elsewhere (a global service simply has one node less). An
/// instance marked removing goes too: no agent is left to finish it. Only
/// finished jobs stay, as the record of their run.
pub fn plan_orphans(nodes: &[&Node], instances: &[&Instance]) -> Vec<Eviction> {
    let known: std::collections::HashSet<(&str, &str)> = nodes
        .iter()
        .map(|n| (n.meta.environment.as_str(), n.meta.name.as_str()))
        .collect();
    instances
        .iter()
        .filter(|i| !i.spec.node.is_empty())
        .filter(|i| !known.contains(&(i.meta.environment.as_str(), i.spec.node.as_str())))
        .filter(|i| i.spec.removing || !finished_job(i))
        .map(|i| {
            (
                i.meta.environment.clone(),
                i.meta.name.clone(),
                i.meta.revision,
            )
        })
        .collect()
}

/// A run-to-completion instance that has run: moving it would run it again.
pub(crate) fn finished_job(inst: &Instance) -> bool {
    inst.spec.launch.job.is_some()
        && matches!(
            inst.status.state,
            InstanceState::Exited | InstanceState::Failed
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, JobSpec, Kind, NodeSpec, Object, ServiceSpec};

    fn node(name: &str, state: NodeState) -> Node {
        let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
        n.status.state = state;
        n
    }

    fn instance(name: &str, node: &str, mode: ServiceMode) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            name,
            InstanceSpec {
                service: "web".into(),
                node: node.into(),
                launch: ServiceSpec {
                    image: "img".into(),
                    mode,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        i.meta.revision = 7;
        i.status.state = InstanceState::Running;
        i
    }

    #[test]
    fn replicated_instances_leave_a_node_silent_past_the_limit_and_nothing_else_moves() {
        let now = Instant::now();
        let dead = node("dead", NodeState::Disconnected);
        let live = node("live", NodeState::Active);
        let on_dead = instance("web-1", "dead", ServiceMode::Replicated);
        let on_live = instance("web-2", "live", ServiceMode::Replicated);
        let global = instance("agent-dead", "dead", ServiceMode::Global);
        let mut job = instance("job-1", "dead", ServiceMode::Replicated);
        job.spec.launch.job = Some(JobSpec { max_attempts: 1 });
        job.status.state = InstanceState::Exited;
        let limit = Duration::from_secs(30);
        let silent_for = |secs| {
            move |n: &Node| {
                if n.meta.name == "dead" {
                    now - Duration::from_secs(secs)
                } else {
                    now
                }
            }
        };
        let all = [&on_dead, &on_live, &global, &job];
        assert!(plan_evacuation(&[&dead, &live], &all, silent_for(20), now, limit).is_empty());
        assert_eq!(
            plan_evacuation(&[&dead, &live], &all, silent_for(31), now, limit),
            vec![("default".to_string(), "web-1".to_string(), 7)]
        );
    }

    #[test]
    fn instances_of_a_removed_node_are_deleted_whatever_their_mode_but_finished_jobs_stay() {
        let live = node("live", NodeState::Active);
        let replicated = instance("web-1", "gone", ServiceMode::Replicated);
        let global = instance("agent-1", "gone", ServiceMode::Global);
        let mut removing = instance("web-2", "gone", ServiceMode::Replicated);
        removing.spec.removing = true;
        let mut job = instance("job-1", "gone", ServiceMode::Replicated);
        job.spec.launch.job = Some(JobSpec { max_attempts: 1 });
        job.status.state = InstanceState::Exited;
        let elsewhere = instance("web-3", "live", ServiceMode::Replicated);
        let pending = instance("web-4", "", ServiceMode::Replicated);
        let all = [&replicated, &global, &removing, &job, &elsewhere, &pending];
        let names: Vec<String> = plan_orphans(&[&live], &all)
            .into_iter()
            .map(|(_, name, _)| name)
            .collect();
        assert_eq!(names, ["web-1", "agent-1", "web-2"]);
    }

    #[test]
    fn a_silent_node_not_yet_marked_disconnected_keeps_its_instances() {
        let now = Instant::now();
        let quiet = node("quiet", NodeState::Active);
        let inst = instance("web-1", "quiet", ServiceMode::Replicated);
        let long_ago = |_: &Node| now - Duration::from_secs(3600);
        assert!(
            plan_evacuation(&[&quiet], &[&inst], long_ago, now, Duration::from_secs(30)).is_empty()
        );
    }

    #[test]
    fn nothing_moves_while_most_nodes_of_the_environment_are_disconnected() {
        let now = Instant::now();
        let a = node("a", NodeState::Disconnected);
        let b = node("b", NodeState::Disconnected);
        let c = node("c", NodeState::Active);
        let inst = instance("web-1", "a", ServiceMode::Replicated);
        let silent = |n: &Node| {
            if n.meta.name == "c" {
                now
            } else {
                now - Duration::from_secs(120)
            }
        };
        let limit = Duration::from_secs(30);
        assert!(plan_evacuation(&[&a, &b, &c], &[&inst], silent, now, limit).is_empty());
        let d = node("d", NodeState::Active);
        assert_eq!(
            plan_evacuation(&[&a, &b, &c, &d], &[&inst], silent, now, limit).len(),
            1,
            "half disconnected still moves"
        );
    }
}
