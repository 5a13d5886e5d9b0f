//! Draining a node (`corral node drain`): its replicated instances move off
//! start-first. A replacement is made (and placed elsewhere: a draining
//! node is unschedulable) and the instance it replaces is retired only
//! once the replacement is ready, at most the service's update parallelism
//! at a time, so the service never has fewer ready instances than it had.
//! Instances on a draining node that do not run serve nobody and go at
//! once. Finished jobs stay (moving them would run them again). Global
//! instances leave through the global service's node list, which leaves
//! draining nodes out (see [`crate::placement::global_nodes`]).
//!
//! The plan is pure: which instances to retire and how many to make.

use std::collections::BTreeSet;

use corral_types::{Health, Instance, InstanceState};

use crate::evacuation::finished_job;
use crate::rollout::ready;
use crate::service_plan::retire_order;

/// An instance that must move off its draining node.
pub fn leaving(inst: &Instance, draining: &BTreeSet<String>) -> bool {
    !inst.spec.removing && draining.contains(&inst.spec.node) && !finished_job(inst)
}

/// Made and not yet ready, nor failed: a replacement on its way.
fn coming_up(inst: &Instance) -> bool {
    !ready(inst)
        && matches!(
            inst.status.state,
            InstanceState::Pending | InstanceState::Starting | InstanceState::Running
        )
        && inst.status.health != Health::Unhealthy
}

/// What to do for one replicated service with instances on draining nodes.
#[derive(Debug, Default, PartialEq)]
pub struct DrainPlan<'a> {
    /// Instances to retire now.
    pub retire: Vec<&'a Instance>,
    /// New instances to make now.
    pub create: usize,
}

/// Plans one step of moving `live` (the service's instances not being
/// removed) off `draining` nodes while keeping `scale`; `None` when none of
/// them is on a draining node. `parallelism` bounds the replacements not
/// yet ready.
pub fn plan_drain<'a>(
    live: &[&'a Instance],
    draining: &BTreeSet<String>,
    scale: usize,
    parallelism: usize,
) -> Option<DrainPlan<'a>> {
    let (leaving_now, mut staying): (Vec<&Instance>, Vec<&Instance>) =
        live.iter().partition(|i| leaving(i, draining));
    if leaving_now.is_empty() {
        return None;
    }
    let mut plan = DrainPlan::default();
    // More staying than wanted (scaled down meanwhile): the usual order.
    if staying.len() > scale {
        staying.sort_by_key(|i| retire_order(i));
        let excess = staying.len() - scale;
        plan.retire.extend(staying.drain(..excess));
    }
    let (up, down): (Vec<&Instance>, Vec<&Instance>) =
        leaving_now.into_iter().partition(|i| ready(i));
    plan.retire.extend(down);
    // Replacements still coming up hold back as many leaving instances;
    // the rest may go as long as `scale` stay (a staying instance that
    // crashes is the service's trouble, not the drain's: it counts).
    let in_flight = staying.iter().filter(|i| coming_up(i)).count();
    let may_go = (staying.len() - in_flight + up.len())
        .saturating_sub(scale)
        .min(up.len());
    let mut up = up;
    up.sort_by_key(|i| retire_order(i));
    plan.retire.extend(up.into_iter().take(may_go));
    let missing = scale.saturating_sub(staying.len());
    plan.create = missing.min(parallelism.max(1).saturating_sub(in_flight));
    Some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{InstanceSpec, JobSpec, Kind, Object, ServiceMode, ServiceSpec};

    fn inst(ordinal: u32, node: &str, state: InstanceState) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            &format!("web-{ordinal}"),
            InstanceSpec {
                service: "web".into(),
                ordinal,
                node: node.into(),
                launch: ServiceSpec {
                    image: "img".into(),
                    mode: ServiceMode::Replicated,
                    ..Default::default()
                },
                ..Default::default()
            },
        );
        i.status.state = state;
        i
    }

    fn draining(nodes: &[&str]) -> BTreeSet<String> {
        nodes.iter().map(|n| n.to_string()).collect()
    }

    fn names(plan: &DrainPlan<'_>) -> Vec<String> {
        plan.retire.iter().map(|i| i.meta.name.clone()).collect()
    }

    use InstanceState::{Exited, Pending, Running};

    #[test]
    fn a_service_with_nothing_on_draining_nodes_is_left_to_the_usual_plan() {
        let a = inst(1, "n1", Running);
        assert_eq!(plan_drain(&[&a], &draining(&["n2"]), 1, 1), None);
    }

    #[test]
    fn drain_starts_a_replacement_before_retiring_anything() {
        let a = inst(1, "n1", Running);
        let b = inst(2, "n2", Running);
        let c = inst(3, "n2", Running);
        let plan = plan_drain(&[&a, &b, &c], &draining(&["n2"]), 3, 1).unwrap();
        assert_eq!(plan.retire, Vec::<&Instance>::new());
        assert_eq!(plan.create, 1, "one at a time by default");
    }

    #[test]
    fn a_replacement_not_yet_ready_holds_back_retirement_and_further_replacements() {
        let a = inst(1, "n1", Running);
        let b = inst(2, "n2", Running);
        let c = inst(3, "n2", Running);
        let new = inst(4, "", Pending);
        let plan = plan_drain(&[&a, &b, &c, &new], &draining(&["n2"]), 3, 1).unwrap();
        assert_eq!(plan, DrainPlan::default());
    }

    #[test]
    fn each_ready_replacement_lets_one_leaving_instance_go_and_the_next_one_start() {
        let a = inst(1, "n1", Running);
        let b = inst(2, "n2", Running);
        let c = inst(3, "n2", Running);
        let new = inst(4, "n3", Running);
        let plan = plan_drain(&[&a, &b, &c, &new], &draining(&["n2"]), 3, 1).unwrap();
        assert_eq!(names(&plan), ["web-3"], "the highest ordinal goes first");
        assert_eq!(plan.create, 1);
    }

    #[test]
    fn parallelism_bounds_the_replacements_in_flight() {
        let a = inst(1, "n2", Running);
        let b = inst(2, "n2", Running);
        let c = inst(3, "n2", Running);
        let plan = plan_drain(&[&a, &b, &c], &draining(&["n2"]), 3, 2).unwrap();
        assert_eq!(plan.create, 2);
        let new = inst(4, "", Pending);
        let plan = plan_drain(&[&a, &b, &c, &new], &draining(&["n2"]), 3, 2).unwrap();
        assert_eq!(plan.create, 1);
    }

    #[test]
    fn leaving_instances_that_do_not_run_go_at_once_and_finished_jobs_stay() {
        let a = inst(1, "n1", Running);
        let stopped = inst(2, "n2", Exited);
        let mut job = inst(3, "n2", Exited);
        job.spec.launch.job = Some(JobSpec { max_attempts: 1 });
        let plan = plan_drain(&[&a, &stopped, &job], &draining(&["n2"]), 3, 1).unwrap();
        assert_eq!(names(&plan), ["web-2"]);
        assert_eq!(plan.create, 1, "the job still counts toward the scale");
    }

    #[test]
    fn the_last_leaving_instance_goes_once_the_service_is_at_scale_elsewhere() {
        let a = inst(1, "n1", Running);
        let b = inst(2, "n3", Running);
        let c = inst(3, "n2", Running);
        let plan = plan_drain(&[&a, &b, &c], &draining(&["n2"]), 2, 1).unwrap();
        assert_eq!(names(&plan), ["web-3"]);
        assert_eq!(plan.create, 0);
    }

    #[test]
    fn a_crashing_instance_elsewhere_does_not_stall_the_drain() {
        let a = inst(1, "n1", Running);
        let crashing = inst(2, "n1", Exited);
        let new = inst(4, "n3", Running);
        let b = inst(3, "n2", Running);
        let plan = plan_drain(&[&a, &crashing, &new, &b], &draining(&["n2"]), 3, 1).unwrap();
        assert_eq!(names(&plan), ["web-3"]);
    }
}
