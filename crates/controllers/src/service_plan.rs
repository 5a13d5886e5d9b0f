//! Keeps a service's instances matching its spec: a pure plan over one
//! service and its instances. Scale (or one instance per eligible node for a
//! global service), start order (`depends_on`), and the rollout of launch
//! config changes in batches with automatic rollback (see [`crate::rollout`]).

use std::collections::BTreeSet;

use corral_types::{
    ContainerLabels, Instance, InstanceSpec, InstanceState, Kind, Object, Service, ServiceMode,
    ServiceSpec, ServiceStatus,
};

use crate::rollout;
use crate::service_status::counts_and_health;

/// One change to a service's instances.
#[derive(Debug, Clone, PartialEq)]
pub enum InstanceAction {
    /// Store this new instance (uid and creation time are filled in on commit).
    Create(Box<Instance>),
    /// One more instance is wanted, but the pass's budget of new instances
    /// ([`ServiceContext::create_budget`]) is spent: a later pass makes it.
    Deferred,
    /// Tell the instance's agent to stop and remove its container.
    MarkRemoving { name: String, revision: u64 },
    /// Delete an instance that has no container (never placed).
    Delete { name: String, revision: u64 },
}

/// Everything the plan of one service looks at.
pub struct ServiceContext<'a> {
    pub environment: &'a str,
    pub name: &'a str,
    /// `None` once the service was deleted.
    pub service: Option<&'a Service>,
    pub instances: &'a [&'a Instance],
    pub now_ms: u64,
    pub now_rfc3339: &'a str,
    /// For a global service: the nodes it should run on.
    pub global_nodes: &'a [String],
    /// `Err(reason)` while a dependency is not ready: no new instances yet.
    pub dependencies: Result<(), String>,
    /// The draining nodes of the environment: instances move off them.
    pub draining_nodes: &'a BTreeSet<String>,
    /// Whether an instance runs the service's current launch config (the
    /// controllers remember the answers, see [`crate::launch_memo`]).
    pub current_launch: &'a dyn Fn(&Instance) -> bool,
    /// How many new instances the plan may still make; the rest of what it
    /// wants comes back as [`InstanceAction::Deferred`].
    pub create_budget: usize,
}

/// No draining nodes.
pub const NO_DRAINING_NODES: &BTreeSet<String> = &BTreeSet::new();

/// What to do for one service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServicePlan {
    pub actions: Vec<InstanceAction>,
    /// The status the service should have (written when it differs).
    pub status: Option<ServiceStatus>,
    /// A spec to write back (an automatic rollback).
    pub spec: Option<ServiceSpec>,
}

/// The launch config instances are made from (see [`ServiceSpec::launch`]).
pub fn launch_of(spec: &ServiceSpec) -> ServiceSpec {
    spec.launch()
}

pub(crate) fn retire(inst: &Instance) -> InstanceAction {
    if inst.spec.node.is_empty() {
        InstanceAction::Delete {
            name: inst.meta.name.clone(),
            revision: inst.meta.revision,
        }
    } else {
        InstanceAction::MarkRemoving {
            name: inst.meta.name.clone(),
            revision: inst.meta.revision,
        }
    }
}

/// Which instances to retire first: unplaced, then not running, then highest ordinal.
pub(crate) fn retire_order(inst: &Instance) -> (u8, std::cmp::Reverse<u32>) {
    let rank = if inst.spec.node.is_empty() {
        0
    } else if inst.status.state != InstanceState::Running {
        1
    } else {
        2
    };
    (rank, std::cmp::Reverse(inst.spec.ordinal))
}

/// Builds new instances of the current launch config with free ordinals.
pub(crate) struct Maker<'a> {
    environment: &'a str,
    name: &'a str,
    service: &'a Service,
    instances: &'a [&'a Instance],
    /// The launch config and the ordinals in use are worked out on the
    /// first `make`: most passes make nothing.
    launch: Option<ServiceSpec>,
    used: Option<BTreeSet<u32>>,
    /// No ordinal below this one is free (ordinals are only taken while
    /// a maker lives), so each `make` looks on from the last one.
    next_ordinal: u32,
    budget: usize,
}

impl<'a> Maker<'a> {
    fn new(ctx: &ServiceContext<'a>, service: &'a Service) -> Self {
        Maker {
            environment: ctx.environment,
            name: ctx.name,
            service,
            instances: ctx.instances,
            launch: None,
            used: None,
            next_ordinal: 1,
            budget: ctx.create_budget,
        }
    }

    /// The service's update parallelism: replacements made at once.
    pub(crate) fn update_parallelism(&self) -> usize {
        usize::try_from(self.service.spec.update.batch_size.max(1)).unwrap_or(1)
    }

    pub(crate) fn make(&mut self, pinned_node: &str) -> InstanceAction {
        if self.budget == 0 {
            return InstanceAction::Deferred;
        }
        self.budget -= 1;
        let instances = self.instances;
        let used = self
            .used
            .get_or_insert_with(|| instances.iter().map(|i| i.spec.ordinal).collect());
        let ordinal = (self.next_ordinal..u32::MAX)
            .find(|n| !used.contains(n))
            .unwrap_or(u32::MAX);
        used.insert(ordinal);
        self.next_ordinal = ordinal.saturating_add(1);
        let service = self.service;
        let launch = self.launch.get_or_insert_with(|| service.spec.launch());
        let mut inst: Instance = Object::new(
            Kind::Instance,
            self.environment,
            &InstanceSpec::instance_name(self.name, ordinal),
            InstanceSpec {
                service: self.name.to_string(),
                ordinal,
                node: String::new(),
                launch: launch.clone(),
                service_generation: self.service.meta.generation,
                removing: false,
                pinned_node: pinned_node.to_string(),
            },
        );
        inst.meta
            .labels
            .insert(ContainerLabels::SERVICE.to_string(), self.name.to_string());
        if !launch.stack.is_empty() {
            inst.meta
                .labels
                .insert(ContainerLabels::STACK.to_string(), launch.stack.clone());
        }
        InstanceAction::Create(Box::new(inst))
    }
}

/// Plans one service.
pub fn plan_service(ctx: &ServiceContext<'_>) -> ServicePlan {
    let Some(service) = ctx.service else {
        let actions = ctx
            .instances
            .iter()
            .filter(|i| !i.spec.removing)
            .map(|i| retire(i))
            .collect();
        return ServicePlan {
            actions,
            ..ServicePlan::default()
        };
    };
    let mut status =
        rollout::track_revision(&service.spec, &service.status, ctx.now_rfc3339, ctx.now_ms);
    let mut plan = ServicePlan::default();
    let mut maker = Maker::new(ctx, service);
    let creating_allowed = ctx.dependencies.is_ok();
    if service.spec.mode == ServiceMode::Global {
        plan_global(ctx, &mut maker, creating_allowed, &mut plan.actions);
    } else {
        rollout::plan_replicated(
            ctx,
            service,
            &mut status,
            &mut maker,
            creating_allowed,
            &mut plan,
        );
    }
    let counted = counts_and_health(service, ctx.instances);
    status.running = counted.running;
    status.pending = counted.pending;
    status.health = counted.health;
    status.observed_generation = service.meta.generation;
    if status != service.status {
        plan.status = Some(status);
    }
    plan
}

/// One instance per eligible node; instances on nodes no longer eligible go.
/// A launch-config change replaces instances one node at a time, stop-first.
fn plan_global(
    ctx: &ServiceContext<'_>,
    maker: &mut Maker<'_>,
    creating_allowed: bool,
    actions: &mut Vec<InstanceAction>,
) {
    let wanted: BTreeSet<&str> = ctx.global_nodes.iter().map(String::as_str).collect();
    let mut by_node: std::collections::BTreeMap<&str, Vec<&Instance>> = Default::default();
    for inst in ctx.instances.iter().filter(|i| !i.spec.removing) {
        let node = inst.spec.pinned_node.as_str();
        if wanted.contains(node) {
            by_node.entry(node).or_default().push(inst);
        } else {
            actions.push(retire(inst));
        }
    }
    let in_flight = ctx.instances.iter().any(|i| {
        !i.spec.removing && (ctx.current_launch)(i) && i.status.state != InstanceState::Running
    });
    let mut may_replace = !in_flight;
    for node in &wanted {
        let mut here = by_node.remove(node).unwrap_or_default();
        // Keep one instance per node, preferring the current launch config.
        here.sort_by_key(|i| (!(ctx.current_launch)(i), retire_order(i)));
        for extra in here.iter().skip(1) {
            actions.push(retire(extra));
        }
        match here.first() {
            None if creating_allowed => actions.push(maker.make(node)),
            Some(kept) if !(ctx.current_launch)(kept) && may_replace && creating_allowed => {
                may_replace = false;
                actions.push(retire(kept));
                actions.push(maker.make(node));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{Health, InstanceState};

    fn service(scale: u32, image: &str) -> Service {
        let mut s: Service = Object::new(
            Kind::Service,
            "default",
            "web",
            ServiceSpec {
                image: image.into(),
                scale,
                ..Default::default()
            },
        );
        s.meta.generation = 1;
        s
    }

    fn instance(svc: &Service, ordinal: u32, node: &str, state: InstanceState) -> Instance {
        let mut i: Instance = Object::new(
            Kind::Instance,
            "default",
            &format!("web-{ordinal}"),
            InstanceSpec {
                service: "web".into(),
                ordinal,
                node: node.into(),
                launch: launch_of(&svc.spec),
                service_generation: 1,
                removing: false,
                pinned_node: if svc.spec.mode == ServiceMode::Global {
                    node.into()
                } else {
                    String::new()
                },
            },
        );
        i.status.state = state;
        i.meta.revision = u64::from(ordinal) * 10;
        i
    }

    fn plan(
        svc: Option<&Service>,
        insts: &[&Instance],
        nodes: &[String],
        deps: Result<(), String>,
    ) -> ServicePlan {
        plan_with_budget(svc, insts, nodes, deps, usize::MAX)
    }

    fn plan_with_budget(
        svc: Option<&Service>,
        insts: &[&Instance],
        nodes: &[String],
        deps: Result<(), String>,
        create_budget: usize,
    ) -> ServicePlan {
        let launch = svc.map(|s| s.spec.launch());
        let current = |i: &Instance| launch.as_ref().is_some_and(|l| i.spec.launch == *l);
        plan_service(&ServiceContext {
            environment: "default",
            name: "web",
            service: svc,
            instances: insts,
            now_ms: 1,
            now_rfc3339: "t",
            global_nodes: nodes,
            dependencies: deps,
            draining_nodes: NO_DRAINING_NODES,
            current_launch: &current,
            create_budget,
        })
    }

    fn created(actions: &[InstanceAction]) -> Vec<(String, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                InstanceAction::Create(i) => {
                    Some((i.meta.name.clone(), i.spec.pinned_node.clone()))
                }
                _ => None,
            })
            .collect()
    }

    #[test]
    fn scale_up_creates_the_lowest_free_ordinals() {
        let svc = service(3, "img");
        let i2 = instance(&svc, 2, "n1", InstanceState::Running);
        let p = plan(Some(&svc), &[&i2], &[], Ok(()));
        let names: Vec<String> = created(&p.actions).into_iter().map(|c| c.0).collect();
        assert_eq!(names, vec!["web-1", "web-3"]);
        let InstanceAction::Create(new) = &p.actions[0] else {
            panic!()
        };
        assert_eq!(
            new.meta
                .labels
                .get(ContainerLabels::SERVICE)
                .map(String::as_str),
            Some("web")
        );
        assert_eq!(new.spec.launch.scale, 0);
    }

    #[test]
    fn a_spent_create_budget_defers_the_rest_and_ordinals_skip_the_used_ones() {
        let svc = service(7, "img");
        let held = [2, 4, 5].map(|n| instance(&svc, n, "n1", InstanceState::Running));
        let refs: Vec<&Instance> = held.iter().collect();
        let all = plan_with_budget(Some(&svc), &refs, &[], Ok(()), usize::MAX);
        let names: Vec<String> = created(&all.actions).into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["web-1", "web-3", "web-6", "web-7"]);
        let some = plan_with_budget(Some(&svc), &refs, &[], Ok(()), 3);
        let names: Vec<String> = created(&some.actions).into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["web-1", "web-3", "web-6"]);
        let deferred = |p: &ServicePlan| {
            p.actions
                .iter()
                .filter(|a| **a == InstanceAction::Deferred)
                .count()
        };
        assert_eq!(deferred(&some), 1);
        let none = plan_with_budget(Some(&svc), &refs, &[], Ok(()), 0);
        assert_eq!((created(&none.actions).len(), deferred(&none)), (0, 4));
    }

    #[test]
    fn scale_down_retires_unplaced_then_stopped_then_highest_ordinals() {
        let svc = service(1, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "n1", InstanceState::Running);
        let c = instance(&svc, 3, "", InstanceState::Pending);
        let d = instance(&svc, 4, "n1", InstanceState::Exited);
        let p = plan(Some(&svc), &[&a, &b, &c, &d], &[], Ok(()));
        assert_eq!(
            p.actions,
            vec![
                InstanceAction::Delete {
                    name: "web-3".into(),
                    revision: 30
                },
                InstanceAction::MarkRemoving {
                    name: "web-4".into(),
                    revision: 40
                },
                InstanceAction::MarkRemoving {
                    name: "web-2".into(),
                    revision: 20
                },
            ]
        );
    }

    #[test]
    fn a_steady_service_needs_no_action() {
        let mut svc = service(2, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "n2", InstanceState::Exited);
        let first = plan(Some(&svc), &[&a, &b], &[], Ok(()));
        assert!(first.actions.is_empty());
        svc.status = first.status.unwrap();
        let again = plan(Some(&svc), &[&a, &b], &[], Ok(()));
        assert_eq!(again, ServicePlan::default());
    }

    #[test]
    fn removing_instances_keep_their_ordinals_until_gone() {
        let svc = service(2, "img");
        let mut a = instance(&svc, 1, "n1", InstanceState::Running);
        a.spec.removing = true;
        let b = instance(&svc, 2, "n1", InstanceState::Running);
        let p = plan(Some(&svc), &[&a, &b], &[], Ok(()));
        assert_eq!(
            created(&p.actions),
            vec![("web-3".to_string(), String::new())]
        );
    }

    #[test]
    fn deleted_service_retires_every_instance_once() {
        let svc = service(2, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let b = instance(&svc, 2, "", InstanceState::Pending);
        let mut c = instance(&svc, 3, "n1", InstanceState::Running);
        c.spec.removing = true;
        let p = plan(None, &[&a, &b, &c], &[], Ok(()));
        assert_eq!(
            p.actions,
            vec![
                InstanceAction::MarkRemoving {
                    name: "web-1".into(),
                    revision: 10
                },
                InstanceAction::Delete {
                    name: "web-2".into(),
                    revision: 20
                },
            ]
        );
    }

    #[test]
    fn scale_change_alone_does_not_replace_instances() {
        let svc = service(1, "img");
        let a = instance(&svc, 1, "n1", InstanceState::Running);
        let bigger = service(2, "img");
        let p = plan(Some(&bigger), &[&a], &[], Ok(()));
        assert_eq!(created(&p.actions).len(), 1);
        assert_eq!(p.actions.len(), 1);
    }

    #[test]
    fn unready_dependencies_hold_back_new_instances() {
        let svc = service(2, "img");
        let p = plan(
            Some(&svc),
            &[],
            &[],
            Err("waiting for db to be healthy".into()),
        );
        assert!(p.actions.is_empty());
    }

    #[test]
    fn a_global_service_runs_one_instance_per_eligible_node() {
        let mut svc = service(0, "img");
        svc.spec.mode = ServiceMode::Global;
        let nodes = vec!["n1".to_string(), "n2".to_string(), "n3".to_string()];
        let on_n1 = instance(&svc, 1, "n1", InstanceState::Running);
        let on_gone = instance(&svc, 2, "n9", InstanceState::Running);
        let p = plan(Some(&svc), &[&on_n1, &on_gone], &nodes, Ok(()));
        assert_eq!(
            created(&p.actions),
            vec![
                ("web-3".to_string(), "n2".to_string()),
                ("web-4".to_string(), "n3".to_string())
            ]
        );
        assert!(p.actions.contains(&InstanceAction::MarkRemoving {
            name: "web-2".into(),
            revision: 20
        }));
    }

    #[test]
    fn a_global_service_upgrades_one_node_at_a_time() {
        let old = {
            let mut s = service(0, "img:1");
            s.spec.mode = ServiceMode::Global;
            s
        };
        let mut new = old.clone();
        new.spec.image = "img:2".into();
        let nodes = vec!["n1".to_string(), "n2".to_string()];
        let a = instance(&old, 1, "n1", InstanceState::Running);
        let b = instance(&old, 2, "n2", InstanceState::Running);
        let p = plan(Some(&new), &[&a, &b], &nodes, Ok(()));
        assert_eq!(
            created(&p.actions),
            vec![("web-3".to_string(), "n1".to_string())]
        );
        let mut c = instance(&new, 3, "n1", InstanceState::Running);
        c.status.health = Health::None;
        let p = plan(Some(&new), &[&c, &b], &nodes, Ok(()));
        assert_eq!(
            created(&p.actions),
            vec![("web-1".to_string(), "n2".to_string())]
        );
    }
}
