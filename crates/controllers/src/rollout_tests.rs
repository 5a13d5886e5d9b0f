//! The rollout state machine, step by step, on fixtures.

use corral_types::{
    FailureAction, Health, Instance, InstanceSpec, InstanceState, Kind, Object, Service,
    ServiceSpec, UpdateConfig, UpdateOrder, UpgradeState,
};

use crate::service_plan::{InstanceAction, ServiceContext, ServicePlan, plan_service};

const NOW: &str = "2026-11-22T00:00:00Z";

fn service(image: &str, scale: u32) -> Service {
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

fn instance(svc: &Service, ordinal: u32, state: InstanceState, health: Health) -> Instance {
    let mut i: Instance = Object::new(
        Kind::Instance,
        "default",
        &format!("web-{ordinal}"),
        InstanceSpec {
            service: "web".into(),
            ordinal,
            node: "n1".into(),
            launch: svc.spec.launch(),
            ..Default::default()
        },
    );
    i.status.state = state;
    i.status.health = health;
    i.meta.revision = u64::from(ordinal);
    i
}

fn plan(svc: &Service, insts: &[&Instance], now_ms: u64) -> ServicePlan {
    let launch = svc.spec.launch();
    let current = |i: &Instance| i.spec.launch == launch;
    plan_service(&ServiceContext {
        environment: "default",
        name: "web",
        service: Some(svc),
        instances: insts,
        now_ms,
        now_rfc3339: NOW,
        global_nodes: &[],
        dependencies: Ok(()),
        draining_nodes: crate::service_plan::NO_DRAINING_NODES,
        current_launch: &current,
        create_budget: usize::MAX,
    })
}

/// Applies a plan's status and spec to the service, as the runner would.
fn apply(svc: &mut Service, p: &ServicePlan) {
    if let Some(st) = &p.status {
        svc.status = st.clone();
    }
    if let Some(spec) = &p.spec {
        svc.spec = spec.clone();
    }
}

fn created(p: &ServicePlan) -> usize {
    p.actions
        .iter()
        .filter(|a| matches!(a, InstanceAction::Create(_)))
        .count()
}

fn retired(p: &ServicePlan) -> Vec<String> {
    p.actions
        .iter()
        .filter_map(|a| match a {
            InstanceAction::MarkRemoving { name, .. } | InstanceAction::Delete { name, .. } => {
                Some(name.clone())
            }
            _ => None,
        })
        .collect()
}

/// A service at revision 1 with `n` healthy instances, then changed to `image`.
fn upgraded(n: u32, image: &str, update: UpdateConfig) -> (Service, Vec<Instance>) {
    let mut svc = service("app:1", n);
    let p = plan(&svc, &[], 0);
    apply(&mut svc, &p);
    let insts: Vec<Instance> = (1..=n)
        .map(|o| instance(&svc, o, InstanceState::Running, Health::Healthy))
        .collect();
    svc.spec.image = image.into();
    svc.spec.update = update;
    (svc, insts)
}

#[test]
fn a_new_launch_config_is_a_new_revision_and_starts_an_upgrade() {
    let (mut svc, insts) = upgraded(3, "app:2", UpdateConfig::default());
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 1000);
    apply(&mut svc, &p);
    let up = svc.status.upgrade.clone().unwrap();
    assert_eq!(up.state, UpgradeState::Upgrading);
    assert_eq!(up.revision, 2);
    assert_eq!(svc.status.history.len(), 2);
    // Stop-first, batch 1: one old instance goes, one new comes.
    assert_eq!(retired(&p), vec!["web-3"]);
    assert_eq!(created(&p), 1);
}

#[test]
fn the_next_batch_waits_until_the_new_instances_are_healthy() {
    let (mut svc, mut insts) = upgraded(2, "app:2", UpdateConfig::default());
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 1000);
    apply(&mut svc, &p);
    insts.pop();
    let new = instance(&svc, 3, InstanceState::Running, Health::Initializing);
    insts.push(new);
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 2000);
    assert!(p.actions.is_empty(), "{:?}", p.actions);
    insts[1].status.health = Health::Healthy;
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 3000);
    assert_eq!(retired(&p), vec!["web-1"]);
    assert_eq!(created(&p), 1);
}

#[test]
fn start_first_starts_the_new_instance_before_stopping_the_old() {
    let update = UpdateConfig {
        order: UpdateOrder::StartFirst,
        ..UpdateConfig::default()
    };
    let (mut svc, mut insts) = upgraded(1, "app:2", update);
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 1000);
    apply(&mut svc, &p);
    assert!(retired(&p).is_empty());
    assert_eq!(created(&p), 1);
    insts.push(instance(&svc, 2, InstanceState::Running, Health::Healthy));
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 2000);
    assert_eq!(retired(&p), vec!["web-1"]);
    assert_eq!(created(&p), 0);
}

#[test]
fn an_unhealthy_new_instance_rolls_back_to_the_previous_launch_config() {
    let (mut svc, mut insts) = upgraded(2, "app:bad", UpdateConfig::default());
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 1000);
    apply(&mut svc, &p);
    insts.pop();
    insts.push(instance(&svc, 3, InstanceState::Running, Health::Unhealthy));
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 2000);
    let spec = p.spec.clone().expect("a rollback spec");
    assert_eq!(spec.image, "app:1");
    apply(&mut svc, &p);
    let up = svc.status.upgrade.clone().unwrap();
    assert_eq!(up.state, UpgradeState::RollingBack);
    assert!(up.reason.contains("web-3 is unhealthy"), "{}", up.reason);
    assert_eq!(svc.status.history.last().unwrap().launch.image, "app:1");
    // Rolling back replaces the bad instance; once only revision-1 instances remain: rolled back.
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 3000);
    assert_eq!(retired(&p), vec!["web-3"]);
    let good: Vec<Instance> = vec![
        insts[0].clone(),
        instance(&svc, 4, InstanceState::Running, Health::Healthy),
    ];
    let refs: Vec<&Instance> = good.iter().collect();
    let p = plan(&svc, &refs, 4000);
    apply(&mut svc, &p);
    assert_eq!(svc.status.upgrade.unwrap().state, UpgradeState::RolledBack);
}

#[test]
fn a_batch_that_never_becomes_ready_fails_at_the_monitor_deadline() {
    let update = UpdateConfig {
        monitor_ms: 5_000,
        failure_action: FailureAction::Pause,
        ..UpdateConfig::default()
    };
    let (mut svc, mut insts) = upgraded(1, "app:2", update);
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 1000);
    apply(&mut svc, &p);
    insts.clear();
    insts.push(instance(&svc, 2, InstanceState::Pending, Health::None));
    insts.push(instance(
        &service("app:1", 1),
        1,
        InstanceState::Running,
        Health::Healthy,
    ));
    let refs: Vec<&Instance> = insts.iter().collect();
    let p = plan(&svc, &refs, 3000);
    assert!(
        p.status.is_none()
            || p.status.as_ref().unwrap().upgrade.as_ref().unwrap().state
                == UpgradeState::Upgrading
    );
    let p = plan(&svc, &refs, 7000);
    apply(&mut svc, &p);
    let up = svc.status.upgrade.unwrap();
    assert_eq!(up.state, UpgradeState::Paused);
    assert!(
        up.reason.contains("did not become ready within 5 s"),
        "{}",
        up.reason
    );
}

#[test]
fn a_finished_upgrade_is_done() {
    let (mut svc, _) = upgraded(1, "app:2", UpdateConfig::default());
    let p = plan(&svc, &[], 1000);
    apply(&mut svc, &p);
    let new = instance(&svc, 2, InstanceState::Running, Health::Healthy);
    let p = plan(&svc, &[&new], 2000);
    apply(&mut svc, &p);
    assert_eq!(svc.status.upgrade.unwrap().state, UpgradeState::Done);
}

#[test]
fn history_is_bounded() {
    let mut svc = service("app:0", 0);
    for n in 1..=15 {
        svc.spec.image = format!("app:{n}");
        let p = plan(&svc, &[], n);
        apply(&mut svc, &p);
    }
    assert_eq!(svc.status.history.len(), corral_types::HISTORY_LIMIT);
    assert_eq!(svc.status.history.last().unwrap().revision, 15);
}
