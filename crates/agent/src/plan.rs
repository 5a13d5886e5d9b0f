//! What the agent must do to make its engine match the instances placed on
//! its node: a pure function of the instances, the containers, the restart
//! backoff and the health of the instances.
//!
//! An instance owns a primary container and one container per sidekick;
//! all carry its `io.corral.instance.uid` label, and sidekicks also
//! `io.corral.sidekick=<name>`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Instant;

use corral_engine::{ContainerState, ContainerSummary};
use corral_types::{
    ContainerLabels, Health, HealthStrategy, Instance, InstanceState, InstanceStatus,
    RestartPolicy, SidekickStatus,
};

use crate::backoff::Backoff;
use crate::container_config::is_data_sidekick;
use crate::health::HealthBook;

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Create and start the instance's containers (data sidekicks, primary,
    /// then the other sidekicks), stopping and removing the containers in
    /// `replace` first and reusing the data sidekicks in `keep` (name to id).
    Launch {
        instance: Arc<Instance>,
        replace: Vec<String>,
        keep: BTreeMap<String, String>,
        after_failure: bool,
    },
    /// Start a created container.
    Start {
        instance: Arc<Instance>,
        container_id: String,
    },
    /// (Re)create sidekicks of an instance whose primary runs.
    LaunchSidekicks {
        instance: Arc<Instance>,
        primary_id: String,
        sidekicks: Vec<SidekickLaunch>,
    },
    /// Stop and remove a container no instance owns.
    RemoveOrphan { container_id: String, name: String },
    /// Stop and remove the instance's containers (sidekicks first), then
    /// delete the instance.
    Finish {
        instance: Arc<Instance>,
        container_ids: Vec<String>,
    },
    /// Tell the server the instance's new status.
    Report {
        instance: Arc<Instance>,
        status: InstanceStatus,
    },
}

/// One sidekick to create, replacing its old container if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidekickLaunch {
    pub name: String,
    pub replace: Option<String>,
    pub after_failure: bool,
}

/// What the agent knows besides the instances.
pub struct NodeFacts<'a> {
    pub containers: &'a [ContainerSummary],
    pub backoff: &'a Backoff,
    pub health: &'a HealthBook,
    pub now: Instant,
    /// Milliseconds since the Unix epoch, for `started_ms` of adopted containers.
    pub now_ms: u64,
    /// False until the agent has listed its instances once: until then, no
    /// container is treated as an orphan.
    pub synced: bool,
}

/// The backoff key of sidekick `name` of instance `uid`.
pub fn sidekick_key(uid: &str, name: &str) -> String {
    format!("{uid}/{name}")
}

pub(crate) fn should_restart(policy: RestartPolicy, exit_code: i64) -> bool {
    match policy {
        RestartPolicy::Always => true,
        RestartPolicy::OnFailure => exit_code != 0,
        RestartPolicy::Never => false,
    }
}

fn report_if_changed(steps: &mut Vec<Step>, inst: &Arc<Instance>, status: InstanceStatus) {
    if inst.status != status {
        steps.push(Step::Report {
            instance: Arc::clone(inst),
            status,
        });
    }
}

/// The containers of one instance.
#[derive(Default)]
struct Owned<'a> {
    primaries: Vec<&'a ContainerSummary>,
    sidekicks: Vec<&'a ContainerSummary>,
}

/// Running first, then the newest.
fn best_first(containers: &mut [&ContainerSummary]) {
    containers.sort_by_key(|c| {
        (
            c.state != ContainerState::Running,
            std::cmp::Reverse(c.started_at.clone()),
        )
    });
}

fn orphan(steps: &mut Vec<Step>, c: &ContainerSummary) {
    steps.push(Step::RemoveOrphan {
        container_id: c.id.clone(),
        name: c.name.clone(),
    });
}

/// Plans one pass.
pub fn plan_node(node: &str, desired: &[Arc<Instance>], facts: &NodeFacts) -> Vec<Step> {
    let mut by_uid: HashMap<&str, Owned> = HashMap::new();
    for c in facts.containers {
        if let Some(uid) = c.labels.get(ContainerLabels::INSTANCE_UID) {
            let owned = by_uid.entry(uid.as_str()).or_default();
            if c.labels.contains_key(ContainerLabels::SIDEKICK) {
                owned.sidekicks.push(c);
            } else {
                owned.primaries.push(c);
            }
        }
    }
    let mut steps = Vec::new();
    for inst in desired.iter().filter(|i| i.spec.node == node) {
        let mut mine = by_uid.remove(inst.meta.uid.as_str()).unwrap_or_default();
        if inst.spec.removing {
            let data = |c: &&&ContainerSummary| {
                c.labels
                    .get(ContainerLabels::SIDEKICK)
                    .is_some_and(|n| is_data_sidekick(&inst.spec.launch, n))
            };
            // Data sidekicks last: the primary mounts their volumes.
            let ids = (mine.sidekicks.iter().filter(|c| !data(c)))
                .chain(&mine.primaries)
                .chain(mine.sidekicks.iter().filter(|c| data(c)));
            steps.push(Step::Finish {
                instance: Arc::clone(inst),
                container_ids: ids.map(|c| c.id.clone()).collect(),
            });
            continue;
        }
        // Should never happen, but if two containers claim one role, keep
        // the running (or newest) one and remove the rest.
        best_first(&mut mine.primaries);
        for extra in mine.primaries.iter().skip(1) {
            orphan(&mut steps, extra);
        }
        best_first(&mut mine.sidekicks);
        let mut sidekicks: BTreeMap<&str, &ContainerSummary> = BTreeMap::new();
        for c in &mine.sidekicks {
            let name = c
                .labels
                .get(ContainerLabels::SIDEKICK)
                .map(String::as_str)
                .unwrap_or_default();
            let known = inst.spec.launch.sidekicks.iter().any(|s| s.name == name);
            if !known || sidekicks.contains_key(name) {
                orphan(&mut steps, c);
            } else {
                sidekicks.insert(name, c);
            }
        }
        let primary = mine.primaries.first().copied();
        plan_instance(&mut steps, inst, primary, &sidekicks, facts);
    }
    if facts.synced {
        for owned in by_uid.values() {
            for c in owned.sidekicks.iter().chain(&owned.primaries) {
                let ours = c
                    .labels
                    .get(ContainerLabels::NODE)
                    .is_none_or(|n| n == node);
                if ours {
                    orphan(&mut steps, c);
                }
            }
        }
    }
    steps
}

/// The instance's containers as the engine has them.
struct Current<'a> {
    primary: Option<&'a ContainerSummary>,
    sidekicks: &'a BTreeMap<&'a str, &'a ContainerSummary>,
}

impl Current<'_> {
    /// Every container id: sidekicks in the primary's namespace first, then
    /// the primary, then the data sidekicks whose volumes it mounts.
    fn all_ids(&self, inst: &Instance) -> Vec<String> {
        let launch = &inst.spec.launch;
        let sidekicks = |data: bool| {
            self.sidekicks
                .iter()
                .filter(move |(name, _)| is_data_sidekick(launch, name) == data)
                .map(|(_, c)| c.id.clone())
        };
        sidekicks(false)
            .chain(self.primary.map(|c| c.id.clone()))
            .chain(sidekicks(true))
            .collect()
    }

    /// Data sidekicks to keep when the primary is replaced, so that their
    /// volumes survive: those the engine still has in a usable state.
    fn kept(&self, inst: &Instance) -> BTreeMap<String, String> {
        self.sidekicks
            .iter()
            .filter(|(name, c)| {
                is_data_sidekick(&inst.spec.launch, name) && c.state != ContainerState::Other
            })
            .map(|(name, c)| (name.to_string(), c.id.clone()))
            .collect()
    }
}

fn plan_instance(
    steps: &mut Vec<Step>,
    inst: &Arc<Instance>,
    primary: Option<&ContainerSummary>,
    sidekicks: &BTreeMap<&str, &ContainerSummary>,
    facts: &NodeFacts,
) {
    let current = Current { primary, sidekicks };
    let Some(c) = primary else {
        plan_missing(steps, inst, &current, facts);
        return;
    };
    match c.state {
        ContainerState::Running => plan_running(steps, inst, c, &current, facts),
        ContainerState::Created => steps.push(Step::Start {
            instance: Arc::clone(inst),
            container_id: c.id.clone(),
        }),
        ContainerState::Exited(code) => plan_exited(steps, inst, c, code, &current, facts),
        ContainerState::Other => {}
    }
}

/// (Re)launches the instance, replacing its containers but the data
/// sidekicks it keeps.
fn launch_step(inst: &Arc<Instance>, current: &Current, after_failure: bool) -> Step {
    let keep = current.kept(inst);
    let replace = current
        .all_ids(inst)
        .into_iter()
        .filter(|id| !keep.values().any(|k| k == id))
        .collect();
    Step::Launch {
        instance: Arc::clone(inst),
        replace,
        keep,
        after_failure,
    }
}

/// No primary container: never launched, failed to launch, or removed behind our back.
fn plan_missing(steps: &mut Vec<Step>, inst: &Arc<Instance>, current: &Current, facts: &NodeFacts) {
    let policy = inst.spec.launch.restart;
    let wait = facts.backoff.wait(&inst.meta.uid, facts.now);
    let never_launched = inst.status.container_id.is_empty();
    let job_done = inst.spec.launch.job.is_some()
        && inst.status.state == InstanceState::Exited
        && inst.status.exit_code == Some(0);
    if job_done {
        return;
    }
    if never_launched && inst.status.state != InstanceState::Failed {
        steps.push(launch_step(inst, current, false));
    } else if never_launched || policy != RestartPolicy::Never {
        if wait.is_zero() {
            steps.push(launch_step(inst, current, true));
        } else if inst.status.state == InstanceState::Running {
            let status = InstanceStatus {
                state: InstanceState::Exited,
                reason: "container was removed; waiting to replace it".into(),
                // Keeps the old id: an empty one would read as "never
                // launched" next pass, and the replacement would not count
                // as a restart.
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
}

/// The instance's health on container `c`.
fn health_of(inst: &Instance, c: &ContainerSummary, facts: &NodeFacts) -> Health {
    match inst.spec.launch.health_check {
        None => Health::None,
        Some(_) => facts.health.health(&inst.meta.uid, &c.id),
    }
}

fn plan_running(
    steps: &mut Vec<Step>,
    inst: &Arc<Instance>,
    c: &ContainerSummary,
    current: &Current,
    facts: &NodeFacts,
) {
    let health = health_of(inst, c, facts);
    let recreate = inst
        .spec
        .launch
        .health_check
        .as_ref()
        .is_some_and(|h| h.strategy == HealthStrategy::Recreate);
    if health == Health::Unhealthy
        && recreate
        && facts.backoff.wait(&inst.meta.uid, facts.now).is_zero()
    {
        steps.push(launch_step(inst, current, true));
        return;
    }
    let launches = sidekick_launches(inst, current, facts);
    if !launches.is_empty() {
        steps.push(Step::LaunchSidekicks {
            instance: Arc::clone(inst),
            primary_id: c.id.clone(),
            sidekicks: launches,
        });
    }
    let same = inst.status.container_id == c.id;
    // The engine's list may not carry start times: keep the ones reported at launch.
    let started_at = if same && !inst.status.started_at.is_empty() {
        inst.status.started_at.clone()
    } else {
        c.started_at.clone()
    };
    let started_ms = if same && inst.status.started_ms != 0 {
        inst.status.started_ms
    } else {
        facts.now_ms
    };
    let reason = if health == Health::Unhealthy && recreate {
        "unhealthy; replacing after backoff".to_string()
    } else {
        String::new()
    };
    let status = InstanceStatus {
        state: InstanceState::Running,
        container_id: c.id.clone(),
        reason,
        exit_code: None,
        restarts: inst.status.restarts,
        started_at,
        health,
        started_ms,
        sidekicks: sidekick_statuses(inst, current),
        // The engine's list may miss it; the one read at launch stays.
        ip: if c.ip.is_empty() && same {
            inst.status.ip.clone()
        } else {
            c.ip.clone()
        },
    };
    report_if_changed(steps, inst, status);
}

/// Sidekicks to (re)create: missing ones, and exited ones the restart
/// policy restarts, once their backoff allows. A start_once sidekick runs
/// once: after it exited it is left alone, whatever its exit code.
fn sidekick_launches(inst: &Instance, current: &Current, facts: &NodeFacts) -> Vec<SidekickLaunch> {
    let policy = inst.spec.launch.restart;
    let mut launches = Vec::new();
    for sk in &inst.spec.launch.sidekicks {
        let key = sidekick_key(&inst.meta.uid, &sk.name);
        if !facts.backoff.wait(&key, facts.now).is_zero() {
            continue;
        }
        let launch = match current.sidekicks.get(sk.name.as_str()) {
            None => {
                let last = inst.status.sidekicks.iter().find(|s| s.name == sk.name);
                let ran = last.is_some_and(|s| s.state == InstanceState::Exited);
                let existed = last.is_some_and(|s| s.state != InstanceState::Pending);
                // A start_once sidekick that ran is not run again.
                (!(sk.start_once && ran)).then_some((None, existed))
            }
            Some(c) => match c.state {
                ContainerState::Exited(_) if sk.start_once => None,
                ContainerState::Exited(code) if should_restart(policy, code) => {
                    Some((Some(c.id.clone()), true))
                }
                ContainerState::Created => Some((Some(c.id.clone()), false)),
                _ => None,
            },
        };
        if let Some((replace, after_failure)) = launch {
            launches.push(SidekickLaunch {
                name: sk.name.clone(),
                replace,
                after_failure,
            });
        }
    }
    launches
}

/// One status per sidekick of the launch config, in its order.
fn sidekick_statuses(inst: &Instance, current: &Current) -> Vec<SidekickStatus> {
    let sidekicks = &inst.spec.launch.sidekicks;
    sidekicks
        .iter()
        .map(|sk| match current.sidekicks.get(sk.name.as_str()) {
            Some(c) => {
                let (state, exit_code) = match c.state {
                    ContainerState::Running => (InstanceState::Running, None),
                    ContainerState::Exited(code) => (InstanceState::Exited, Some(code)),
                    ContainerState::Created | ContainerState::Other => {
                        (InstanceState::Starting, None)
                    }
                };
                SidekickStatus {
                    name: sk.name.clone(),
                    state,
                    container_id: c.id.clone(),
                    exit_code,
                }
            }
            // Keep a failure the launch reported, or the run of a start_once
            // sidekick; otherwise it is still to come.
            None => inst
                .status
                .sidekicks
                .iter()
                .find(|s| {
                    s.name == sk.name
                        && (s.state == InstanceState::Failed
                            || (sk.start_once && s.state == InstanceState::Exited))
                })
                .cloned()
                .unwrap_or_else(|| SidekickStatus {
                    name: sk.name.clone(),
                    ..SidekickStatus::default()
                }),
        })
        .collect()
}

fn plan_exited(
    steps: &mut Vec<Step>,
    inst: &Arc<Instance>,
    c: &ContainerSummary,
    code: i64,
    current: &Current,
    facts: &NodeFacts,
) {
    let launch = &inst.spec.launch;
    let policy = launch.restart;
    // A job that exits 0 is done, whatever the restart policy says.
    let restart = match launch.job {
        Some(_) => code != 0 && policy != RestartPolicy::Never,
        None => should_restart(policy, code),
    };
    let attempts = inst.status.restarts.saturating_add(1);
    let gave_up = launch
        .job
        .is_some_and(|j| j.max_attempts > 0 && attempts >= j.max_attempts);
    let base = InstanceStatus {
        state: InstanceState::Exited,
        container_id: c.id.clone(),
        reason: String::new(),
        exit_code: Some(code),
        restarts: inst.status.restarts,
        started_at: c.started_at.clone(),
        ..inst.status.clone()
    };
    if restart && gave_up {
        let status = InstanceStatus {
            state: InstanceState::Failed,
            reason: format!("gave up after {attempts} attempts (last exit code {code})"),
            ..base
        };
        report_if_changed(steps, inst, status);
        return;
    }
    if restart && facts.backoff.wait(&inst.meta.uid, facts.now).is_zero() {
        steps.push(launch_step(inst, current, true));
        return;
    }
    let reason = if restart {
        format!("exited with code {code}; restarting after backoff")
    } else {
        String::new()
    };
    report_if_changed(steps, inst, InstanceStatus { reason, ..base });
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
