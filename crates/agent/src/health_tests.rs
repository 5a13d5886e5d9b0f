use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use corral_types::{InstanceSpec, Kind, Object, ServiceSpec};

fn check(healthy: u32, unhealthy: u32) -> HealthCheck {
    HealthCheck {
        healthy_threshold: healthy,
        unhealthy_threshold: unhealthy,
        start_period_ms: 0,
        initializing_timeout_ms: 0,
        ..HealthCheck::default()
    }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn successes_up_to_the_threshold_make_it_healthy() {
    let t0 = Instant::now();
    let c = check(2, 3);
    let mut s = HealthState::new(t0);
    assert_eq!(s.health(), Health::Initializing);
    assert_eq!(s.observe(&c, true, t0 + secs(1)), Health::Initializing);
    assert_eq!(s.observe(&c, true, t0 + secs(2)), Health::Healthy);
}

#[test]
fn consecutive_failures_up_to_the_threshold_make_it_unhealthy() {
    let t0 = Instant::now();
    let c = check(1, 3);
    let mut s = HealthState::new(t0);
    s.observe(&c, true, t0);
    s.observe(&c, false, t0 + secs(1));
    s.observe(&c, false, t0 + secs(2));
    // A success in between resets the count.
    s.observe(&c, true, t0 + secs(3));
    s.observe(&c, false, t0 + secs(4));
    assert_eq!(s.observe(&c, false, t0 + secs(5)), Health::Healthy);
    assert_eq!(s.observe(&c, false, t0 + secs(6)), Health::Unhealthy);
    assert_eq!(s.observe(&c, true, t0 + secs(7)), Health::Healthy);
}

#[test]
fn failures_in_the_start_period_do_not_count() {
    let t0 = Instant::now();
    let c = HealthCheck {
        start_period_ms: 10_000,
        ..check(1, 1)
    };
    let mut s = HealthState::new(t0);
    assert_eq!(s.observe(&c, false, t0 + secs(5)), Health::Initializing);
    assert_eq!(s.observe(&c, false, t0 + secs(11)), Health::Unhealthy);
}

#[test]
fn not_healthy_after_the_initializing_timeout_is_unhealthy() {
    let t0 = Instant::now();
    let c = HealthCheck {
        initializing_timeout_ms: 5_000,
        ..check(5, 100)
    };
    let mut s = HealthState::new(t0);
    assert_eq!(s.observe(&c, true, t0 + secs(1)), Health::Initializing);
    assert_eq!(s.observe(&c, true, t0 + secs(6)), Health::Unhealthy);
}

#[test]
fn the_book_reports_initializing_for_another_container() {
    let mut book = HealthBook::default();
    book.set("u1", "c1", Health::Unhealthy);
    assert_eq!(book.health("u1", "c1"), Health::Unhealthy);
    assert_eq!(book.health("u1", "c2"), Health::Initializing);
    assert_eq!(book.health("u2", "c1"), Health::Initializing);
}

/// Answers with scripted results, then passes.
struct Scripted {
    results: Mutex<VecDeque<bool>>,
    calls: AtomicUsize,
}

#[async_trait::async_trait]
impl Prober for Scripted {
    async fn probe(&self, _id: &str, _probe: &Probe, _timeout: Duration) -> bool {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.results.lock().unwrap().pop_front().unwrap_or(true)
    }
}

fn instance_with_check(uid: &str) -> Instance {
    let mut i: Instance = Object::new(
        Kind::Instance,
        "default",
        "web-1",
        InstanceSpec {
            service: "web".into(),
            node: "n1".into(),
            launch: ServiceSpec {
                image: "img".into(),
                health_check: Some(HealthCheck {
                    interval_ms: 10,
                    ..check(2, 2)
                }),
                ..Default::default()
            },
            ..Default::default()
        },
    );
    i.meta.uid = uid.into();
    i
}

fn running(id: &str, uid: &str) -> ContainerSummary {
    ContainerSummary {
        id: id.into(),
        name: id.into(),
        labels: BTreeMap::from([(ContainerLabels::INSTANCE_UID.to_string(), uid.to_string())])
            .into(),
        state: ContainerState::Running,
        started_at: String::new(),
        ip: "10.0.0.2".into(),
    }
}

#[tokio::test]
async fn the_monitor_probes_running_instances_and_stops_when_they_go() {
    let prober = Arc::new(Scripted {
        results: Mutex::new(VecDeque::from([false, true])),
        calls: AtomicUsize::new(0),
    });
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let mut monitor = HealthMonitor::new(
        prober.clone(),
        Arc::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }),
    );
    let inst = Arc::new(instance_with_check("u1"));
    let c = running("c1", "u1");
    monitor.sync(std::slice::from_ref(&inst), std::slice::from_ref(&c));
    assert_eq!(monitor.probing(), 1);
    assert_eq!(monitor.book().health("u1", "c1"), Health::Initializing);
    let deadline = Instant::now() + secs(5);
    while monitor.book().health("u1", "c1") != Health::Healthy {
        assert!(Instant::now() < deadline, "never became healthy");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(wakes.load(Ordering::SeqCst) >= 1);
    // The same container again: the task goes on.
    monitor.sync(std::slice::from_ref(&inst), std::slice::from_ref(&c));
    assert_eq!(monitor.probing(), 1);
    // A new container: a fresh task, initializing again.
    let c2 = running("c2", "u1");
    monitor.sync(std::slice::from_ref(&inst), std::slice::from_ref(&c2));
    assert_eq!(monitor.book().health("u1", "c2"), Health::Initializing);
    // Gone: no task left, no more probes.
    monitor.sync(&[], &[]);
    assert_eq!(monitor.probing(), 0);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let calls = prober.calls.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(prober.calls.load(Ordering::SeqCst), calls);
}
