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
            pinned_node: String::new(),
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
        labels: labels.into(),
        state,
        started_at: "t".into(),
        ip: String::new(),
    }
}

fn plan(
    node: &str,
    desired: &[Instance],
    containers: &[ContainerSummary],
    backoff: &Backoff,
    now: Instant,
    synced: bool,
) -> Vec<Step> {
    plan_with_health(
        node,
        desired,
        containers,
        backoff,
        &HealthBook::default(),
        now,
        synced,
    )
}

fn plan_with_health(
    node: &str,
    desired: &[Instance],
    containers: &[ContainerSummary],
    backoff: &Backoff,
    health: &HealthBook,
    now: Instant,
    synced: bool,
) -> Vec<Step> {
    let facts = NodeFacts {
        containers,
        backoff,
        health,
        now,
        now_ms: 1_000,
        synced,
    };
    let desired: Vec<Arc<Instance>> = desired.iter().cloned().map(Arc::new).collect();
    plan_node(node, &desired, &facts)
}

fn kinds(steps: &[Step]) -> Vec<&'static str> {
    steps
        .iter()
        .map(|s| match s {
            Step::Launch { replace, .. } if replace.is_empty() => "launch",
            Step::Launch { .. } => "replace",
            Step::LaunchSidekicks { .. } => "sidekicks",
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
        kinds(&plan("n1", &[i.clone()], &[], &b, now, true)),
        vec!["launch"]
    );
    let c = container("c1", "u1", ContainerState::Running);
    let steps = plan("n1", &[i.clone()], std::slice::from_ref(&c), &b, now, true);
    let Step::Report { status, .. } = &steps[0] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.state, InstanceState::Running);
    i.status = status.clone();
    assert!(plan("n1", &[i], &[c], &b, now, true).is_empty());
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
            kinds(&plan("n1", &[i], &[c], &b, now, true)),
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
        kinds(&plan("n1", &[i.clone()], &[], &b, now, true)),
        vec!["launch"]
    );
    i.spec.launch.restart = RestartPolicy::Never;
    let steps = plan("n1", &[i], &[], &b, now, true);
    let Step::Report { status, .. } = &steps[0] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.state, InstanceState::Failed);
}

#[test]
fn a_removed_container_replaced_after_its_backoff_counts_as_a_restart() {
    let mut b = Backoff::default();
    let now = Instant::now();
    b.launched("u1", now, true);
    let mut i = inst("web-1", "u1", RestartPolicy::Always);
    i.status.container_id = "gone".into();
    i.status.state = InstanceState::Running;
    // Inside the backoff: reported as waiting, still naming the old container.
    let steps = plan("n1", std::slice::from_ref(&i), &[], &b, now, true);
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.state, InstanceState::Exited);
    assert_eq!(status.container_id, "gone");
    // After it: replaced, and the replacement is a restart.
    i.status = status.clone();
    let later = now + Duration::from_secs(2);
    let steps = plan("n1", &[i], &[], &b, later, true);
    let [Step::Launch { after_failure, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert!(after_failure);
}

#[test]
fn restarts_wait_for_the_backoff() {
    let mut b = Backoff::default();
    let now = Instant::now();
    b.launched("u1", now, true);
    let i = inst("web-1", "u1", RestartPolicy::Always);
    let c = container("c1", "u1", ContainerState::Exited(1));
    assert_eq!(
        kinds(&plan(
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
        kinds(&plan("n1", &[i], &[c], &b, later, true)),
        vec!["replace"]
    );
}

#[test]
fn orphans_are_removed_only_after_the_first_sync_and_only_on_this_node() {
    let b = Backoff::default();
    let now = Instant::now();
    let orphan = container("c9", "u9", ContainerState::Running);
    let mut elsewhere = container("c8", "u8", ContainerState::Running);
    std::sync::Arc::make_mut(&mut elsewhere.labels)
        .insert(ContainerLabels::NODE.into(), "n2".into());
    let cs = [orphan, elsewhere];
    assert!(plan("n1", &[], &cs, &b, now, false).is_empty());
    assert_eq!(kinds(&plan("n1", &[], &cs, &b, now, true)), vec!["orphan"]);
}

#[test]
fn removing_instances_finish_with_all_their_containers() {
    let b = Backoff::default();
    let mut i = inst("web-1", "u1", RestartPolicy::Always);
    i.spec.removing = true;
    let c = container("c1", "u1", ContainerState::Running);
    let steps = plan("n1", &[i], &[c], &b, Instant::now(), true);
    assert!(
        matches!(&steps[..], [Step::Finish { container_ids, .. }] if container_ids == &vec!["c1".to_string()])
    );
}

#[test]
fn instances_of_other_nodes_are_ignored() {
    let b = Backoff::default();
    let mut i = inst("web-1", "u1", RestartPolicy::Always);
    i.spec.node = "n2".into();
    assert!(plan("n1", &[i], &[], &b, Instant::now(), true).is_empty());
}

fn with_sidekicks(mut i: Instance, names: &[&str]) -> Instance {
    i.spec.launch.sidekicks = names
        .iter()
        .map(|n| corral_types::Sidekick {
            name: n.to_string(),
            image: "busy".into(),
            ..Default::default()
        })
        .collect();
    i
}

fn sidekick(id: &str, uid: &str, name: &str, state: ContainerState) -> ContainerSummary {
    let mut c = container(id, uid, state);
    std::sync::Arc::make_mut(&mut c.labels)
        .insert(ContainerLabels::SIDEKICK.to_string(), name.to_string());
    c
}

#[test]
fn sidekicks_are_neither_duplicates_nor_orphans() {
    let b = Backoff::default();
    let now = Instant::now();
    let i = with_sidekicks(inst("web-1", "u1", RestartPolicy::Always), &["log"]);
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "log", ContainerState::Running),
    ];
    let steps = plan("n1", std::slice::from_ref(&i), &cs, &b, now, true);
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.container_id, "c1", "the sidekick is not the primary");
    assert_eq!(status.sidekicks.len(), 1);
    assert_eq!(status.sidekicks[0].container_id, "s1");
    assert_eq!(status.sidekicks[0].state, InstanceState::Running);
    // A sidekick of an unknown name, and a second "log", are removed.
    let extra = [
        cs[0].clone(),
        cs[1].clone(),
        sidekick("s2", "u1", "log", ContainerState::Exited(0)),
        sidekick("s3", "u1", "gone", ContainerState::Running),
    ];
    let steps = plan("n1", &[i], &extra, &b, now, true);
    let mut orphans: Vec<&str> = steps
        .iter()
        .filter_map(|s| match s {
            Step::RemoveOrphan { container_id, .. } => Some(container_id.as_str()),
            _ => None,
        })
        .collect();
    orphans.sort();
    assert_eq!(orphans, vec!["s2", "s3"]);
}

#[test]
fn a_missing_or_dead_sidekick_is_recreated_per_the_restart_policy() {
    let b = Backoff::default();
    let now = Instant::now();
    let i = with_sidekicks(inst("web-1", "u1", RestartPolicy::OnFailure), &["a", "b"]);
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "a", ContainerState::Exited(2)),
    ];
    let steps = plan("n1", std::slice::from_ref(&i), &cs, &b, now, true);
    let Step::LaunchSidekicks {
        primary_id,
        sidekicks,
        ..
    } = &steps[0]
    else {
        panic!("{steps:?}")
    };
    assert_eq!(primary_id, "c1");
    assert_eq!(
        sidekicks,
        &vec![
            SidekickLaunch {
                name: "a".into(),
                replace: Some("s1".into()),
                after_failure: true
            },
            SidekickLaunch {
                name: "b".into(),
                replace: None,
                after_failure: false
            },
        ]
    );
    // Exit code 0 with on-failure: left alone, reported exited.
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "a", ContainerState::Exited(0)),
        sidekick("s2", "u1", "b", ContainerState::Running),
    ];
    let steps = plan("n1", &[i], &cs, &b, now, true);
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.sidekicks[0].state, InstanceState::Exited);
    assert_eq!(status.sidekicks[0].exit_code, Some(0));
}

#[test]
fn a_sidekick_waits_for_its_own_backoff() {
    let mut b = Backoff::default();
    let now = Instant::now();
    b.launched(&sidekick_key("u1", "a"), now, true);
    let i = with_sidekicks(inst("web-1", "u1", RestartPolicy::Always), &["a"]);
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "a", ContainerState::Exited(1)),
    ];
    assert_eq!(kinds(&plan("n1", &[i], &cs, &b, now, true)), vec!["report"]);
}

#[test]
fn replacing_the_primary_replaces_its_sidekicks_and_finish_removes_them_first() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = with_sidekicks(inst("web-1", "u1", RestartPolicy::Always), &["a"]);
    let cs = [
        container("c1", "u1", ContainerState::Exited(1)),
        sidekick("s1", "u1", "a", ContainerState::Running),
    ];
    let steps = plan("n1", std::slice::from_ref(&i), &cs, &b, now, true);
    let [Step::Launch { replace, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(replace, &vec!["s1".to_string(), "c1".to_string()]);
    // The primary removed behind our back: its sidekicks go with the relaunch.
    i.status.container_id = "c1".into();
    i.status.state = InstanceState::Running;
    let steps = plan("n1", std::slice::from_ref(&i), &cs[1..], &b, now, true);
    let [Step::Launch { replace, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(replace, &vec!["s1".to_string()]);
    i.spec.removing = true;
    let steps = plan("n1", &[i], &cs, &b, now, true);
    let [Step::Finish { container_ids, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(container_ids, &vec!["s1".to_string(), "c1".to_string()]);
}

#[test]
fn a_job_that_exits_0_is_done_whatever_the_restart_policy() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = inst("job-1", "u1", RestartPolicy::Always);
    i.spec.launch.job = Some(corral_types::JobSpec { max_attempts: 0 });
    let c = container("c1", "u1", ContainerState::Exited(0));
    let steps = plan("n1", std::slice::from_ref(&i), &[c], &b, now, true);
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.state, InstanceState::Exited);
    assert_eq!(status.exit_code, Some(0));
    assert_eq!(status.restarts, 0);
    // Done, even if its container goes away later.
    i.status = status.clone();
    assert!(plan("n1", &[i], &[], &b, now, true).is_empty());
}

#[test]
fn a_failing_job_is_retried_until_max_attempts_then_failed() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = inst("job-1", "u1", RestartPolicy::OnFailure);
    i.spec.launch.job = Some(corral_types::JobSpec { max_attempts: 2 });
    let c = container("c1", "u1", ContainerState::Exited(1));
    assert_eq!(
        kinds(&plan(
            "n1",
            std::slice::from_ref(&i),
            std::slice::from_ref(&c),
            &b,
            now,
            true
        )),
        vec!["replace"]
    );
    i.status.restarts = 1;
    let steps = plan("n1", std::slice::from_ref(&i), &[c], &b, now, true);
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.state, InstanceState::Failed);
    assert_eq!(status.reason, "gave up after 2 attempts (last exit code 1)");
    assert_eq!(status.restarts, 1);
}

#[test]
fn health_is_reported_and_an_unhealthy_instance_is_replaced() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = inst("web-1", "u1", RestartPolicy::Always);
    let c = container("c1", "u1", ContainerState::Running);
    let mut book = HealthBook::default();
    // Without a health check: none.
    let steps = plan(
        "n1",
        std::slice::from_ref(&i),
        std::slice::from_ref(&c),
        &b,
        now,
        true,
    );
    let [Step::Report { status, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(status.health, Health::None);
    assert_eq!(status.started_ms, 1_000);
    i.spec.launch.health_check = Some(corral_types::HealthCheck::default());
    let health_of = |book: &HealthBook, i: &Instance| {
        let steps = plan_with_health(
            "n1",
            std::slice::from_ref(i),
            std::slice::from_ref(&c),
            &b,
            book,
            now,
            true,
        );
        match &steps[..] {
            [Step::Report { status, .. }] => status.health,
            _ => panic!("{steps:?}"),
        }
    };
    assert_eq!(health_of(&book, &i), Health::Initializing);
    book.set("u1", "c1", Health::Healthy);
    assert_eq!(health_of(&book, &i), Health::Healthy);
    book.set("u1", "c1", Health::Unhealthy);
    let steps = plan_with_health(
        "n1",
        std::slice::from_ref(&i),
        std::slice::from_ref(&c),
        &b,
        &book,
        now,
        true,
    );
    assert!(
        matches!(&steps[..], [Step::Launch { replace, after_failure: true, .. }] if replace == &vec!["c1".to_string()]),
        "{steps:?}"
    );
    // With strategy none, it is only reported.
    if let Some(h) = i.spec.launch.health_check.as_mut() {
        h.strategy = corral_types::HealthStrategy::None;
    }
    assert_eq!(health_of(&book, &i), Health::Unhealthy);
}

/// `web` with a data sidekick `data` (start_once) and a sidekick `log`.
fn with_data_sidekick(policy: RestartPolicy) -> Instance {
    let mut i = with_sidekicks(inst("web-1", "u1", policy), &["log", "data"]);
    i.spec.launch.volumes_from = vec!["data".into()];
    i.spec.launch.sidekicks[1].start_once = true;
    i
}

#[test]
fn replacing_the_primary_keeps_its_data_sidekick_and_finish_removes_it_last() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = with_data_sidekick(RestartPolicy::Always);
    let cs = [
        container("c1", "u1", ContainerState::Exited(1)),
        sidekick("s1", "u1", "log", ContainerState::Running),
        sidekick("d1", "u1", "data", ContainerState::Exited(0)),
    ];
    let steps = plan("n1", std::slice::from_ref(&i), &cs, &b, now, true);
    let [Step::Launch { replace, keep, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(replace, &vec!["s1".to_string(), "c1".to_string()]);
    assert_eq!(
        keep,
        &BTreeMap::from([("data".to_string(), "d1".to_string())])
    );
    i.spec.removing = true;
    let steps = plan("n1", &[i], &cs, &b, now, true);
    let [Step::Finish { container_ids, .. }] = &steps[..] else {
        panic!("{steps:?}")
    };
    assert_eq!(container_ids, &vec!["s1", "c1", "d1"]);
}

#[test]
fn a_start_once_sidekick_that_exited_is_left_alone_and_the_instance_runs() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = with_data_sidekick(RestartPolicy::Always);
    for code in [0, 3] {
        let cs = [
            container("c1", "u1", ContainerState::Running),
            sidekick("s1", "u1", "log", ContainerState::Running),
            sidekick("d1", "u1", "data", ContainerState::Exited(code)),
        ];
        let steps = plan("n1", std::slice::from_ref(&i), &cs, &b, now, true);
        let [Step::Report { status, .. }] = &steps[..] else {
            panic!("{code}: {steps:?}")
        };
        assert_eq!(status.state, InstanceState::Running);
        assert_eq!(status.sidekicks[1].state, InstanceState::Exited);
        assert_eq!(status.sidekicks[1].exit_code, Some(code));
        i.status = status.clone();
    }
    // Its container removed after the run: not run again, the run is kept.
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "log", ContainerState::Running),
    ];
    assert!(plan("n1", std::slice::from_ref(&i), &cs, &b, now, true).is_empty());
    // Never ran: created.
    i.status.sidekicks.clear();
    let steps = plan("n1", &[i], &cs, &b, now, true);
    assert!(
        matches!(&steps[0], Step::LaunchSidekicks { sidekicks, .. } if sidekicks[0].name == "data"),
        "{steps:?}"
    );
}

#[test]
fn a_data_sidekick_without_start_once_follows_the_restart_policy() {
    let b = Backoff::default();
    let now = Instant::now();
    let mut i = with_data_sidekick(RestartPolicy::Always);
    i.spec.launch.sidekicks[1].start_once = false;
    let cs = [
        container("c1", "u1", ContainerState::Running),
        sidekick("s1", "u1", "log", ContainerState::Running),
        sidekick("d1", "u1", "data", ContainerState::Exited(0)),
    ];
    let steps = plan("n1", &[i], &cs, &b, now, true);
    let Step::LaunchSidekicks { sidekicks, .. } = &steps[0] else {
        panic!("{steps:?}")
    };
    // Executed as a start in place for a data sidekick.
    assert_eq!(sidekicks[0].name, "data");
    assert_eq!(sidekicks[0].replace.as_deref(), Some("d1"));
}
