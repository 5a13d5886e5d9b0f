//! What the agent must do to make its engine match the instances placed on
//! its node: a pure function of the instances, the containers and the
//! restart backoff.

use std::collections::HashMap;
use std::time::Instant;

use corral_engine::{ContainerState, ContainerSummary};
use corral_types::{ContainerLabels, Instance, InstanceState, InstanceStatus, RestartPolicy};

use crate::backoff::Backoff;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create and start a container for the instance, removing `replace` first.
    Launch {
        instance: Box<Instance>,
        replace: Option<String>,
        after_failure: bool,
    },
    /// Start a created container.
    Start {
        instance: Box<Instance>,
        container_id: String,
    },
    /// Stop and remove a container no instance owns.
    RemoveOrphan { container_id: String, name: String },
    /// Stop and remove the instance's containers, then delete the instance.
    Finish {
        instance: Box<Instance>,
        container_ids: Vec<String>,
    },
    /// Tell the server the instance's new status.
    Report {
        instance: Box<Instance>,
        status: InstanceStatus,
    },
}

fn should_restart(policy: RestartPolicy, exit_code: i64) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Never => false,
    }
}

fn report_if_changed(steps: &mut Vec<Step>, inst: &Instance, status: InstanceStatus) {
    if inst.status != status {
        steps.push(Step::Report {
            instance: Box::new(inst.clone()),
            status,
        });
    }
}

/// Plans one pass. `synced` is false until the agent has listed its instances
/// once: until then, no container is treated as an orphan.
pub fn plan_node(
    node: &str,
    desired: &[Instance],
    containers: &[ContainerSummary],
    backoff: &Backoff,
    now: Instant,
    synced: bool,
) -> Vec<Step> {
    let mut by_uid: HashMap<&str, Vec<&ContainerSummary>> = HashMap::new();
    for c in containers {
        if let Some(uid) = c.labels.get(ContainerLabels::INSTANCE_UID) {
            by_uid.entry(uid.as_str()).or_default().push(c);
        }
    }
    let mut steps = Vec::new();
    for inst in desired.iter().filter(|i| i.spec.node == node) {
        let mut mine = by_uid.remove(inst.meta.uid.as_str()).unwrap_or_default();
        if inst.spec.removing {
            steps.push(Step::Finish {
                instance: Box::new(inst.clone()),
                container_ids: mine.iter().map(|c| c.id.clone()).collect(),
            });
            continue;
        }
        // Should never happen, but if two containers claim one instance, keep
        // the running (or newest) one and remove the rest.
        mine.sort_by_key(|c| {
            (
                c.state != ContainerState::Running,
                std::cmp::Reverse(c.started_at.clone()),
            )
        });
        for extra in mine.iter().skip(1) {
            steps.push(Step::RemoveOrphan {
                container_id: extra.id.clone(),
                name: extra.name.clone(),
            });
        }
        plan_instance(&mut steps, inst, mine.first().copied(), backoff, now);
    }
    if synced {
        for c in by_uid.values().flatten() {
            let ours = c
                .labels
                .get(ContainerLabels::NODE)
                .is_none_or(|n| n == node);
            if ours {
                steps.push(Step::RemoveOrphan {
                    container_id: c.id.clone(),
                    name: c.name.clone(),
                });
            }
        }
    }
    steps
}

fn plan_instance(
    steps: &mut Vec<Step>,
    inst: &Instance,
    container: Option<&ContainerSummary>,
    backoff: &Backoff,
    now: Instant,
) {
    let policy = inst.spec.launch.restart;
    let wait = backoff.wait(&inst.meta.uid, now);
    let launch = |replace: Option<String>, after_failure: bool| Step::Launch {
        instance: Box::new(inst.clone()),
        replace,
        after_failure,
    };
    let Some(c) = container else {
        let never_launched = inst.status.container_id.is_empty();
        if never_launched && inst.status.state != InstanceState::Failed {
            steps.push(launch(None, false));
        } else if never_launched || policy != RestartPolicy::Never {
            // Failed to launch before, or removed behind our back.
            if wait.is_zero() {
                steps.push(launch(None, true));
            } else if inst.status.state == InstanceState::Running {
                let status = InstanceStatus {
                    state: InstanceState::Exited,
                    reason: "container was removed; waiting to replace it".into(),
                    container_id: String::new(),
                    ..inst.status.clone()
                };
                report_if_changed(steps, inst, status);
            }
        } else {
            let status = InstanceStatus {
                state: InstanceState::Failed,
                reason: "container was removed and the restart policy is never".into(),
                ..inst.status.clone()
            };
            report_if_changed(steps, inst, status);
        }
        return;
    };
    match c.state {
        ContainerState::Running => {
            // The engine's list may not carry start times: keep the one reported at launch.
            let started_at =
                if inst.status.container_id == c.id && !inst.status.started_at.is_empty() {
                    inst.status.started_at.clone()
                } else {
                    c.started_at.clone()
                };
            let status = InstanceStatus {
                state: InstanceState::Running,
                container_id: c.id.clone(),
                reason: String::new(),
                exit_code: None,
                restarts: inst.status.restarts,
                started_at,
                ..inst.status.clone()
            };
            report_if_changed(steps, inst, status);
        }
        ContainerState::Created => steps.push(Step::Start {
            instance: Box::new(inst.clone()),
            container_id: c.id.clone(),
        }),
        ContainerState::Exited(code) => {
            if should_restart(policy, code) && wait.is_zero() {
                steps.push(launch(Some(c.id.clone()), true));
                return;
            }
            let reason = if should_restart(policy, code) {
                format!("exited with code {code}; restarting after backoff")
            } else {
                String::new()
            };
            let status = InstanceStatus {
                state: InstanceState::Exited,
                container_id: c.id.clone(),
                reason,
                exit_code: Some(code),
                restarts: inst.status.restarts,
                started_at: c.started_at.clone(),
                ..inst.status.clone()
            };
            report_if_changed(steps, inst, status);
        }
        ContainerState::Other => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use super::*;
    use corral_types::{InstanceSpec, Kind, Object, ServiceSpec};

    fn inst(name: &str, uid: &str, policy: RestartPolicy) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            name,
            InstanceSpec {
                service: "web".into(),
                ordinal: 1,
                node: "n1".into(),
                launch: ServiceSpec {
                    image: "img".into(),
                    restart: policy,
                    ..Default::default()
                },
                service_generation: 1,
                removing: false,
            },
        );
        i.meta.uid = uid.into();
        i
    }

    fn container(id: &str, uid: &str, state: ContainerState) -> ContainerSummary {
        let mut labels = BTreeMap::new();
        labels.insert(ContainerLabels::INSTANCE_UID.to_string(), uid.to_string());
        labels.insert(ContainerLabels::NODE.to_string(), "n1".to_string());
        ContainerSummary {
            id: id.into(),
            name: format!("c-{id}"),
            labels,
            state,
            started_at: "t".into(),
        }
    }

    fn kinds(steps: &[Step]) -> Vec<&'static str> {
        steps
            .iter()
            .map(|s| match s {
                Step::Launch { replace: None, .. } => "launch",
                Step::Launch {
                    replace: Some(_), ..
                } => "replace",
                Step::Start { .. } => "start",
                Step::RemoveOrphan { .. } => "orphan",
                Step::Finish { .. } => "finish",
                Step::Report { .. } => "report",
            })
            .collect()
    }

    #[test]
    fn a_new_instance_is_launched_and_a_running_one_reported_once() {
        let b = Backoff::default();
        let now = Instant::now();
        let mut i = inst("web-1", "u1", RestartPolicy::Always);
        assert_eq!(
            kinds(&plan_node("n1", &[i.clone()], &[], &b, now, true)),
            vec!["launch"]
        );
        let c = container("c1", "u1", ContainerState::Running);
        let steps = plan_node("n1", &[i.clone()], std::slice::from_ref(&c), &b, now, true);
        let Step::Report { status, .. } = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(status.state, InstanceState::Running);
        i.status = status.clone();
        assert!(plan_node("n1", &[i], &[c], &b, now, true).is_empty());
    }

    #[test]
    fn exited_containers_follow_the_restart_policy() {
        let b = Backoff::default();
        let now = Instant::now();
        let cases = [
            (RestartPolicy::Always, 0, "replace"),
            (RestartPolicy::OnFailure, 1, "replace"),
            (RestartPolicy::OnFailure, 0, "report"),
            (RestartPolicy::Never, 1, "report"),
        ];
        for (policy, code, want) in cases {
            let i = inst("web-1", "u1", policy);
            let c = container("c1", "u1", ContainerState::Exited(code));
            assert_eq!(
                kinds(&plan_node("n1", &[i], &[c], &b, now, true)),
                vec![want],
                "{policy:?} {code}"
            );
        }
    }

    #[test]
    fn a_removed_container_is_replaced_unless_policy_is_never() {
        let b = Backoff::default();
        let now = Instant::now();
        let mut i = inst("web-1", "u1", RestartPolicy::Always);
        i.status.container_id = "gone".into();
        i.status.state = InstanceState::Running;
        assert_eq!(
            kinds(&plan_node("n1", &[i.clone()], &[], &b, now, true)),
            vec!["launch"]
        );
        i.spec.launch.restart = RestartPolicy::Never;
        let steps = plan_node("n1", &[i], &[], &b, now, true);
        let Step::Report { status, .. } = &steps[0] else {
            panic!("{steps:?}")
        };
        assert_eq!(status.state, InstanceState::Failed);
    }

    #[test]
    fn restarts_wait_for_the_backoff() {
        let mut b = Backoff::default();
        let now = Instant::now();
        b.launched("u1", now, true);
        let i = inst("web-1", "u1", RestartPolicy::Always);
        let c = container("c1", "u1", ContainerState::Exited(1));
        assert_eq!(
            kinds(&plan_node(
                "n1",
                std::slice::from_ref(&i),
                std::slice::from_ref(&c),
                &b,
                now,
                true
            )),
            vec!["report"]
        );
        let later = now + Duration::from_secs(2);
        assert_eq!(
            kinds(&plan_node("n1", &[i], &[c], &b, later, true)),
            vec!["replace"]
        );
    }

    #[test]
    fn orphans_are_removed_only_after_the_first_sync_and_only_on_this_node() {
        let b = Backoff::default();
        let now = Instant::now();
        let orphan = container("c9", "u9", ContainerState::Running);
        let mut elsewhere = container("c8", "u8", ContainerState::Running);
        elsewhere
            .labels
            .insert(ContainerLabels::NODE.into(), "n2".into());
        let cs = [orphan, elsewhere];
        assert!(plan_node("n1", &[], &cs, &b, now, false).is_empty());
        assert_eq!(
            kinds(&plan_node("n1", &[], &cs, &b, now, true)),
            vec!["orphan"]
        );
    }

    #[test]
    fn removing_instances_finish_with_all_their_containers() {
        let b = Backoff::default();
        let mut i = inst("web-1", "u1", RestartPolicy::Always);
        i.spec.removing = true;
        let c = container("c1", "u1", ContainerState::Running);
        let steps = plan_node("n1", &[i], &[c], &b, Instant::now(), true);
        assert!(
            matches!(&steps[..], [Step::Finish { container_ids, .. }] if container_ids == &vec!["c1".to_string()])
        );
    }

    #[test]
    fn instances_of_other_nodes_are_ignored() {
        let b = Backoff::default();
        let mut i = inst("web-1", "u1", RestartPolicy::Always);
        i.spec.node = "n2".into();
        assert!(plan_node("n1", &[i], &[], &b, Instant::now(), true).is_empty());
    }
}
