//! The controller loop: a cache fed by one store watch, and a reconcile pass
//! after every batch of changes and on a timer.
//!
//! It runs on its own thread with its own single-threaded runtime, so the
//! synchronous store calls it makes never block the API server's workers.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use corral_store::{Op, Query, Store, StoreError, Watch};
use corral_types::{Instance, InstanceState, Kind, Node, PlacementStrategy, Service, ServiceMode};

use crate::ControllerError;
use crate::cache::Cache;
use crate::clock::{Clock, new_uid};
use crate::dependencies::dependencies_ready;
use crate::evacuation::{plan_evacuation, plan_orphans};
use crate::global_nodes::GlobalNodesCache;
use crate::launch_memo::LaunchMemo;
use crate::liveness::{Liveness, disconnect_after, plan_liveness};
use crate::pacing::{apply_ready, drain_until, next_pass_at};
use crate::placement::{PlacementChange, plan_placement};
use crate::service_plan::{InstanceAction, NO_DRAINING_NODES, ServiceContext, plan_service};
use crate::writes::{apply_placement, ignore_races, stamp_created, to_raw};

#[derive(Debug, Clone, Copy)]
pub struct ControllerConfig {
    /// A node silent this long is marked disconnected (`corral server
    /// --node-timeout`); never less than three heartbeat intervals (see
    /// [`disconnect_after`]).
    pub node_timeout: Duration,
    /// Reconcile at least this often, even with no change: also how late
    /// a disconnect may be noticed after its timeout.
    pub resync: Duration,
    /// A node disconnected this long (after its disconnect time) loses its
    /// replicated instances: they are made again on other nodes
    /// (`--reschedule-after`; 0: as soon as it is disconnected).
    pub reschedule_after: Duration,
    /// At most this many new instances are made in one pass; the rest in
    /// the next ones. A deploy of 150,000 instances then reaches the
    /// agents batch by batch instead of after one pass that makes, places
    /// and writes them all.
    pub max_creates_per_pass: usize,
}

/// The default `max_creates_per_pass`. Each pass walks every instance and
/// builds the scheduler's snapshot of them all; at 5,000 nodes and 150,000
/// instances, passes of 25,000 took a fifth less of the controllers' CPU
/// than passes of 10,000 (12.1 s against 15.4 s), and with creation times
/// stamped at write time a larger pass no longer lengthens the lag.
pub const MAX_CREATES_PER_PASS: usize = 25_000;

/// The default `node_timeout`.
pub const DEFAULT_NODE_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            node_timeout: DEFAULT_NODE_TIMEOUT,
            resync: Duration::from_secs(1),
            reschedule_after: Duration::ZERO,
            max_creates_per_pass: MAX_CREATES_PER_PASS,
        }
    }
}

/// Starts the controllers on their own thread; they stop when `shutdown` becomes true.
pub fn run_controllers(
    store: Arc<dyn Store>,
    liveness: Arc<Liveness>,
    clock: Arc<dyn Clock>,
    config: ControllerConfig,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("controllers".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("controllers cannot start a runtime: {e}");
                    return;
                }
            };
            let ctx = Context {
                store,
                liveness,
                clock,
                config,
                global_nodes: RefCell::default(),
                launch_memo: RefCell::default(),
                orphan_check: RefCell::new(None),
            };
            runtime.block_on(ctx.run(shutdown));
        })
}

/// What one pass plans: its writes, the instances it saw, when its
/// planning and its placement ended, and whether instances were left to
/// make in a later pass (the create budget was spent).
struct PassPlan {
    writes: Vec<Op>,
    instances: usize,
    planned: Duration,
    placed: Duration,
    deferred: bool,
}

struct Context {
    store: Arc<dyn Store>,
    liveness: Arc<Liveness>,
    clock: Arc<dyn Clock>,
    config: ControllerConfig,
    global_nodes: RefCell<GlobalNodesCache>,
    launch_memo: RefCell<LaunchMemo>,
    /// When the instances were last checked for removed nodes, and the
    /// node names then (a fingerprint): see [`Context::evacuate`].
    orphan_check: RefCell<Option<(Instant, u64)>>,
}

impl Context {
    async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let loaded = Cache::load(self.store.as_ref()).and_then(|cache| {
                let watch = self.store.watch(Query::default(), cache.revision())?;
                Ok((cache, watch))
            });
            let (mut cache, mut watch) = match loaded {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("controllers cannot load the store: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            loop {
                let pass_started = tokio::time::Instant::now();
                let deferred = match self.reconcile(&mut cache, &mut watch) {
                    Ok(deferred) => deferred,
                    Err(e) => {
                        tracing::warn!("reconcile: {e}");
                        false
                    }
                };
                let pass_took = pass_started.elapsed();
                let next_pass = next_pass_at(pass_started, pass_took, deferred);
                if deferred {
                    // Instances are left to make: no change needs to come first.
                    if *shutdown.borrow() {
                        return;
                    }
                } else {
                    tokio::select! {
                        ev = watch.next_shared() => match ev {
                            Ok(ev) => cache.apply(&ev),
                            Err(e) => {
                                tracing::info!("controller watch ended ({e}); reloading");
                                break;
                            }
                        },
                        _ = tokio::time::sleep(self.config.resync) => continue,
                        _ = shutdown.changed() => return,
                    }
                }
                // Gather what else comes before the next pass may start. A
                // watch that fell behind has lost events: reload rather than
                // plan on a stale cache.
                if let Err(e) = drain_until(&mut watch, &mut cache, next_pass).await {
                    tracing::info!("controller watch ended ({e}); reloading");
                    break;
                }
            }
        }
    }

    /// One pass: plans every change from the cache, writes it, and puts
    /// what was written into the cache at once, so the next pass sees its
    /// own writes even before their watch events arrive (planning again on
    /// a cache without them would make every new instance twice). Answers
    /// whether instances were left to make in a later pass.
    fn reconcile(&self, cache: &mut Cache, watch: &mut Watch) -> Result<bool, ControllerError> {
        let started = Instant::now();
        let pass = self.plan_pass(cache, started)?;
        let count = pass.writes.len();
        self.flush(pass.writes, cache, watch)?;
        tracing::debug!(
            "pass over {} instances: plan {:?}, placement {:?}, {count} writes {:?}{}",
            pass.instances,
            pass.planned,
            pass.placed - pass.planned,
            started.elapsed() - pass.placed,
            if pass.deferred { ", more to make" } else { "" }
        );
        Ok(pass.deferred)
    }

    /// The writes of a pass, the number of instances seen, when planning
    /// and placement ended, and whether instances were left to make.
    fn plan_pass(&self, cache: &Cache, started: Instant) -> Result<PassPlan, ControllerError> {
        let nodes: Vec<&Node> = cache.nodes().collect();
        let instances: Vec<&Instance> = cache.instances().collect();

        self.reconcile_liveness(&nodes)?;
        let evictions = self.evacuate(&nodes, &instances);
        if !evictions.is_empty() {
            // The next pass sees them gone and makes their replacements.
            let at = started.elapsed();
            return Ok(PassPlan {
                writes: evictions,
                instances: instances.len(),
                planned: at,
                placed: at,
                deferred: false,
            });
        }

        let mut groups: BTreeMap<(&str, &str), Vec<&Instance>> = BTreeMap::new();
        for inst in &instances {
            groups
                .entry((inst.meta.environment.as_str(), inst.spec.service.as_str()))
                .or_default()
                .push(inst);
        }
        for svc in cache.services() {
            groups
                .entry((svc.meta.environment.as_str(), svc.meta.name.as_str()))
                .or_default();
        }
        let by_name: BTreeMap<(&str, &str), &Service> = cache
            .services()
            .map(|s| ((s.meta.environment.as_str(), s.meta.name.as_str()), s))
            .collect();
        let mut draining: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for node in nodes.iter().filter(|n| n.spec.draining) {
            draining
                .entry(node.meta.environment.as_str())
                .or_default()
                .insert(node.meta.name.clone());
        }
        let now = self.clock.now_rfc3339();
        let now_ms = self.clock.now_ms();
        let mut ops: Vec<Op> = Vec::new();
        let mut created: Vec<Instance> = Vec::new();
        let mut deferred = false;
        let mut global_cache = self.global_nodes.borrow_mut();
        let demand_of = |inst: &Instance| cache.demand_of(inst);
        global_cache.refresh(
            cache.services(),
            &nodes,
            &instances,
            &demand_of,
            Instant::now(),
        );
        for ((env, name), insts) in &groups {
            let service = by_name.get(&(*env, *name)).copied();
            let global_nodes = match service {
                Some(svc) if svc.spec.mode == ServiceMode::Global => {
                    global_cache.get(env, name).unwrap_or_default()
                }
                _ => &[],
            };
            // Built only when the memo does not know an instance's answer.
            let launch = std::cell::OnceCell::new();
            let current_launch = |inst: &Instance| {
                service.is_some_and(|svc| {
                    self.launch_memo
                        .borrow_mut()
                        .same(inst, svc, || launch.get_or_init(|| svc.spec.launch()))
                })
            };
            let ctx = ServiceContext {
                environment: env,
                name,
                service,
                instances: insts,
                now_ms,
                now_rfc3339: &now,
                global_nodes,
                dependencies: service.map_or(Ok(()), |s| dependencies_ready(s, &groups)),
                draining_nodes: draining.get(env).unwrap_or(NO_DRAINING_NODES),
                current_launch: &current_launch,
                create_budget: self
                    .config
                    .max_creates_per_pass
                    .saturating_sub(created.len()),
            };
            let plan = plan_service(&ctx);
            for action in plan.actions {
                match action {
                    // Left to a later pass: the service is short of
                    // instances until then, and the next plan sees it.
                    InstanceAction::Deferred => deferred = true,
                    InstanceAction::Create(mut inst) => {
                        // `created` is stamped when its batch is written.
                        inst.meta.uid = new_uid();
                        inst.meta.generation = 1;
                        created.push(*inst);
                    }
                    other => ops.extend(self.instance_op(env, other, cache)?),
                }
            }
            if let Some(svc) = service
                && (plan.spec.is_some() || plan.status.is_some())
            {
                let mut updated = svc.clone();
                if let Some(spec) = plan.spec {
                    updated.spec = spec;
                    updated.meta.generation += 1;
                }
                if let Some(status) = plan.status {
                    updated.status = status;
                }
                ops.push(Op::Update(to_raw(&updated)?));
            }
        }
        drop(global_cache);
        self.launch_memo.borrow_mut().end_pass();

        let planned = started.elapsed();
        let writes = self.place(cache, &nodes, &instances, created, ops)?;
        Ok(PassPlan {
            writes,
            instances: instances.len(),
            planned,
            placed: started.elapsed(),
            deferred,
        })
    }

    /// Places the new instances and the pending ones, and returns every
    /// write of the pass: the new instances (already on their node) first.
    /// With nothing to place the scheduler is not asked at all: that is the
    /// common pass (status reports coming in), and building its snapshot
    /// costs a walk over every instance.
    fn place(
        &self,
        cache: &Cache,
        nodes: &[&Node],
        instances: &[&Instance],
        created: Vec<Instance>,
        ops: Vec<Op>,
    ) -> Result<Vec<Op>, ControllerError> {
        let pending = instances
            .iter()
            .any(|i| i.spec.node.is_empty() && !i.spec.removing);
        let mut new_by_name: BTreeMap<(String, String), Instance> = created
            .into_iter()
            .map(|i| ((i.meta.environment.clone(), i.meta.name.clone()), i))
            .collect();
        let mut placement_ops = Vec::new();
        if pending || !new_by_name.is_empty() {
            let strategies: BTreeMap<String, PlacementStrategy> = cache
                .environments()
                .map(|env| (env.meta.name.clone(), env.spec.placement_strategy))
                .collect();
            // New instances are placed in the same pass as they are made, so
            // that they are written once, already on their node.
            let mut all: Vec<&Instance> = instances.to_vec();
            let created: Vec<Instance> = new_by_name.values().cloned().collect();
            all.extend(created.iter());
            let demand_of = |inst: &Instance| cache.demand_of(inst);
            let changes = plan_placement(nodes, &all, &strategies, &demand_of);
            for change in changes {
                let (env, name) = match &change {
                    PlacementChange::Place {
                        environment, name, ..
                    }
                    | PlacementChange::Unplaced {
                        environment, name, ..
                    } => (environment.clone(), name.clone()),
                };
                match new_by_name.get_mut(&(env, name)) {
                    Some(inst) => apply_placement(inst, change),
                    None => placement_ops.extend(self.placement_op(change, cache)?),
                }
            }
        }
        let mut writes = Vec::with_capacity(new_by_name.len() + ops.len() + placement_ops.len());
        for inst in new_by_name.into_values() {
            writes.push(Op::Create(to_raw(&inst)?));
        }
        writes.extend(ops);
        writes.extend(placement_ops);
        Ok(writes)
    }

    /// Writes `ops` in batches (one transaction each). A batch that loses a
    /// race with another writer is retried op by op, and ops that lose
    /// again are left to the next pass.
    ///
    /// After each batch the events already on the watch are applied: the
    /// writes of a large pass (150,000 new instances) would otherwise fill
    /// the watch's channel with their own events and make it lag, and a
    /// lagging watch costs a reload of the whole cache.
    fn flush(
        &self,
        mut ops: Vec<Op>,
        cache: &mut Cache,
        watch: &mut Watch,
    ) -> Result<(), ControllerError> {
        for chunk in ops.chunks_mut(WRITE_BATCH) {
            // An error here ends the watch; the loop sees it and reloads.
            let _ = apply_ready(watch, cache);
            stamp_created(chunk, &self.clock.now_rfc3339());
            let chunk = &*chunk;
            match self.store.apply(chunk.to_vec()) {
                Ok(written) => {
                    for (op, obj) in chunk.iter().zip(written) {
                        cache.apply_own_write(matches!(op, Op::Delete { .. }), obj);
                    }
                }
                Err(
                    StoreError::Conflict { .. }
                    | StoreError::NotFound { .. }
                    | StoreError::AlreadyExists { .. },
                ) => {
                    tracing::debug!(
                        "a batch of {} writes lost a race; writing one by one",
                        chunk.len()
                    );
                    for op in chunk {
                        let deleted = matches!(op, Op::Delete { .. });
                        if let Some(obj) = ignore_races(self.store.apply(vec![op.clone()]))?
                            .and_then(|mut w| w.pop())
                        {
                            cache.apply_own_write(deleted, obj);
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn reconcile_liveness(&self, nodes: &[&Node]) -> Result<(), ControllerError> {
        let now = Instant::now();
        let seen = |n: &Node| {
            self.liveness
                .last_seen(&n.meta.environment, &n.meta.name, now)
        };
        let timeout = disconnect_after(self.config.node_timeout, self.liveness.interval_s());
        for (env, name, state) in plan_liveness(nodes, seen, now, timeout) {
            if let Some(node) = nodes
                .iter()
                .find(|n| n.meta.environment == env && n.meta.name == name)
            {
                tracing::info!("node {env}/{name} is now {state}");
                let mut updated = (*node).clone();
                updated.status.state = state;
                ignore_races(self.store.update(to_raw(&updated)?))?;
            }
        }
        Ok(())
    }

    /// Deletes the replicated instances of lost nodes (see
    /// [`plan_evacuation`]) and the instances of removed nodes (see
    /// [`plan_orphans`]).
    fn evacuate(&self, nodes: &[&Node], instances: &[&Instance]) -> Vec<Op> {
        let now = Instant::now();
        let seen = |n: &Node| {
            self.liveness
                .last_seen(&n.meta.environment, &n.meta.name, now)
        };
        let timeout = disconnect_after(self.config.node_timeout, self.liveness.interval_s());
        let lost_after = timeout + self.config.reschedule_after;
        let mut evictions = plan_evacuation(nodes, instances, seen, now, lost_after);
        if !evictions.is_empty() {
            tracing::info!(
                "rescheduling {} instances of nodes silent for over {:?}",
                evictions.len(),
                lost_after
            );
        }
        let orphans = if self.orphans_may_have_changed(nodes, now) {
            plan_orphans(nodes, instances)
        } else {
            Vec::new()
        };
        if !orphans.is_empty() {
            tracing::info!("rescheduling {} instances of removed nodes", orphans.len());
        }
        evictions.extend(orphans);
        evictions
            .into_iter()
            .map(|(environment, name, revision)| Op::Delete {
                kind: Kind::Instance,
                environment,
                name,
                revision: Some(revision),
            })
            .collect()
    }

    /// Whether to look for instances of removed nodes, a walk over every
    /// instance: when a node was added or removed since the last look, and
    /// at least every [`ORPHAN_CHECK`] (an instance written by hand onto a
    /// node that does not exist).
    fn orphans_may_have_changed(&self, nodes: &[&Node], now: Instant) -> bool {
        let mut h = std::hash::DefaultHasher::new();
        for n in nodes {
            std::hash::Hash::hash(&(&n.meta.environment, &n.meta.name), &mut h);
        }
        let fingerprint = std::hash::Hasher::finish(&h);
        let mut last = self.orphan_check.borrow_mut();
        let due = match *last {
            Some((at, seen)) => seen != fingerprint || now.duration_since(at) >= ORPHAN_CHECK,
            None => true,
        };
        if due {
            *last = Some((now, fingerprint));
        }
        due
    }

    fn instance_op(
        &self,
        env: &str,
        action: InstanceAction,
        cache: &Cache,
    ) -> Result<Option<Op>, ControllerError> {
        match action {
            InstanceAction::Create(inst) => Ok(Some(Op::Create(to_raw(&inst)?))),
            InstanceAction::Deferred => Ok(None),
            InstanceAction::MarkRemoving { name, .. } => {
                let Some(mut inst) = cache.instance(env, &name).cloned() else {
                    return Ok(None);
                };
                inst.spec.removing = true;
                inst.meta.generation += 1;
                if inst.status.state == InstanceState::Running {
                    inst.status.state = InstanceState::Stopping;
                }
                Ok(Some(Op::Update(to_raw(&inst)?)))
            }
            InstanceAction::Delete { name, revision } => Ok(Some(Op::Delete {
                kind: Kind::Instance,
                environment: env.to_string(),
                name,
                revision: Some(revision),
            })),
        }
    }

    fn placement_op(
        &self,
        change: PlacementChange,
        cache: &Cache,
    ) -> Result<Option<Op>, ControllerError> {
        let (env, name) = match &change {
            PlacementChange::Place {
                environment, name, ..
            }
            | PlacementChange::Unplaced {
                environment, name, ..
            } => (environment, name),
        };
        let Some(mut inst) = cache.instance(env, name).cloned() else {
            return Ok(None);
        };
        apply_placement(&mut inst, change);
        Ok(Some(Op::Update(to_raw(&inst)?)))
    }
}

/// Longest time between two looks for instances of removed nodes.
const ORPHAN_CHECK: Duration = Duration::from_secs(5);

/// Instance writes per store transaction.
const WRITE_BATCH: usize = 512;
