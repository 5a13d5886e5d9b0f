//! Stacks: deploy compose files (with a dry run), export them back, remove a
//! stack with its services. A deploy is one atomic store write: nothing is
//! ever half-deployed.

use std::collections::{BTreeMap, BTreeSet};

use corral_api::{DeployRequest, PlannedInstance, ServiceChange, StackPlan};
use corral_controllers::stack_plan::{StackChanges, changed_fields, plan_stack};
use corral_store::{Op, Query};
use corral_types::{
    Instance, InstanceSpec, Kind, MountKind, Node, Object, RawObject, Service, ServiceMode, Stack,
    StackSpec, StackStatus, validate_name,
};

use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::stack_files::{self, FileKind};
use crate::state::AppState;

fn encode<
    S: serde::Serialize + serde::de::DeserializeOwned,
    T: serde::Serialize + serde::de::DeserializeOwned + Default,
>(
    obj: &Object<S, T>,
) -> Result<RawObject, ApiError> {
    obj.to_raw()
        .map_err(|e| ApiError::Internal(format!("encode {}: {e}", obj.meta.name)))
}

fn decode<O: serde::de::DeserializeOwned>(raw: RawObject) -> Result<O, ApiError> {
    serde_json::to_value(raw)
        .and_then(serde_json::from_value)
        .map_err(|e| ApiError::Internal(format!("stored object does not decode: {e}")))
}

async fn services_of(state: &AppState, env: &str) -> Result<Vec<Service>, ApiError> {
    let q = Query::kind(Kind::Service).in_environment(env);
    let listing = state.store(move |s| s.list(&q)).await?;
    listing.items.into_iter().map(decode).collect()
}

/// Runs compose parsing and planning off the async workers: a big stack
/// costs CPU and must not stall other requests.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("stack task failed: {e}")))
}

/// Deploys (or plans, with `dry_run`) compose files as stack `name`.
pub async fn deploy(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<StackPlan, ApiError> {
    validate_name("name", name)?;
    let req: DeployRequest = decode_body(body)?;
    deploy_request(state, admission, env, name, req, None).await
}

/// Deploys `req` as stack `name` of `env`; `app` is the catalog template
/// it was launched from, kept in the stack's spec.
pub async fn deploy_request(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
    req: DeployRequest,
    app: Option<corral_types::AppRef>,
) -> Result<StackPlan, ApiError> {
    if req.files.is_empty() {
        return Err(ApiError::invalid(
            "files",
            "at least one compose file is required",
        ));
    }
    let stack = name.to_string();
    let (req, loaded) = blocking(move || {
        let loaded = corral_compose::load(&stack, &req.files, &req.variables);
        (req, loaded)
    })
    .await?;
    let mut loaded =
        loaded.map_err(|e| ApiError::invalid(e.diagnostic().key.clone(), e.to_string()))?;
    if let Some(app) = &app {
        corral_catalog::bind_answer_secrets(app, &mut loaded)
            .map_err(|e| ApiError::invalid(e.field, e.message))?;
    }
    let secrets = stack_files::plan(
        state,
        env,
        name,
        FileKind::Secret,
        &loaded.secrets,
        &req.secrets,
        req.dry_run,
    )
    .await?;
    let configs = stack_files::plan(
        state,
        env,
        name,
        FileKind::Config,
        &loaded.configs,
        &req.configs,
        req.dry_run,
    )
    .await?;
    secrets.pin(&mut loaded.services);
    configs.pin(&mut loaded.services);
    let env_spec = crate::admission::environment_open_for_writes(state, env).await?;
    for (compose_name, spec) in &loaded.services {
        let object_name = corral_controllers::stack_plan::service_object_name(name, compose_name);
        validate_name(&format!("services.{compose_name}"), &object_name)?;
        // Checked here too so that a dry run shows the refusal.
        crate::admission::check_service_host_access(
            admission.caller(),
            &env_spec,
            &format!("services.{compose_name}"),
            spec,
        )?;
    }
    let current = services_of(state, env).await?;
    let (e, n) = (env.to_string(), name.to_string());
    let (loaded, changes, mut plan) = blocking(move || {
        let changes = plan_stack(&e, &n, &loaded.services, &current);
        let plan = describe(&n, &changes, &loaded);
        (loaded, changes, plan)
    })
    .await?;
    plan.placements = preview(state, env, &changes).await?;
    plan.secrets = secrets.lines.clone();
    plan.configs = configs.lines.clone();
    if req.dry_run {
        return Ok(plan);
    }
    // Stored before the services that mount them (a separate write: a
    // deploy refused after this leaves them stored, unused).
    secrets.apply(state, admission, env).await?;
    configs.apply(state, admission, env).await?;
    let stack_spec = StackSpec {
        files: req.files,
        variables: req.variables,
        app,
    };
    let stack_status = StackStatus {
        services: loaded
            .services
            .keys()
            .map(|s| corral_controllers::stack_plan::service_object_name(name, s))
            .collect(),
        warnings: plan.warnings.clone(),
    };
    let ops = write_ops(state, env, name, stack_spec, stack_status, &changes).await?;
    if !ops.is_empty() {
        admission.apply(ops).await?;
    }
    plan.applied = true;
    Ok(plan)
}

fn describe(name: &str, changes: &StackChanges, loaded: &corral_compose::Loaded) -> StackPlan {
    StackPlan {
        stack: name.to_string(),
        created: changes.create.iter().map(|s| s.meta.name.clone()).collect(),
        changed: changes
            .update
            .iter()
            .map(|(old, new)| ServiceChange {
                service: new.meta.name.clone(),
                fields: changed_fields(&old.spec, &new.spec),
                upgrade: old.spec.launch() != new.spec.launch(),
            })
            .collect(),
        removed: changes.delete.iter().map(|s| s.meta.name.clone()).collect(),
        unchanged: changes.unchanged.clone(),
        placements: Vec::new(),
        volumes: loaded.volumes.iter().cloned().collect(),
        secrets: Vec::new(),
        configs: Vec::new(),
        warnings: loaded.warnings.iter().map(ToString::to_string).collect(),
        applied: false,
    }
}

/// The store writes of a deploy: the stack object and its services.
async fn write_ops(
    state: &AppState,
    env: &str,
    name: &str,
    spec: StackSpec,
    status: StackStatus,
    changes: &StackChanges,
) -> Result<Vec<Op>, ApiError> {
    let mut ops = Vec::new();
    let (e, n) = (env.to_string(), name.to_string());
    let existing = match state.store(move |s| s.get(Kind::Stack, &e, &n)).await {
        Ok(raw) => Some(decode::<Stack>(raw)?),
        Err(ApiError::NotFound(_)) => None,
        Err(err) => return Err(err),
    };
    let nothing_changes =
        changes.create.is_empty() && changes.update.is_empty() && changes.delete.is_empty();
    match existing {
        Some(stack) if stack.spec == spec && stack.status == status && nothing_changes => {
            return Ok(ops);
        }
        Some(mut stack) => {
            if stack.spec != spec {
                stack.meta.generation += 1;
            }
            stack.spec = spec;
            stack.status = status;
            ops.push(Op::Update(encode(&stack)?));
        }
        None => {
            let mut stack: Stack = Object::new(Kind::Stack, env, name, spec);
            stack.status = status;
            stack.meta.uid = corral_controllers::new_uid();
            stack.meta.created = state.clock.now_rfc3339();
            stack.meta.generation = 1;
            ops.push(Op::Create(encode(&stack)?));
        }
    }
    for svc in &changes.create {
        let mut svc = svc.clone();
        svc.meta.uid = corral_controllers::new_uid();
        svc.meta.created = state.clock.now_rfc3339();
        svc.meta.generation = 1;
        ops.push(Op::Create(encode(&svc)?));
    }
    for (_, new) in &changes.update {
        ops.push(Op::Update(encode(new)?));
    }
    for svc in &changes.delete {
        ops.push(Op::Delete {
            kind: Kind::Service,
            environment: env.to_string(),
            name: svc.meta.name.clone(),
            revision: Some(svc.meta.revision),
        });
    }
    Ok(ops)
}

/// Where the instances of the services a deploy creates would go now.
async fn preview(
    state: &AppState,
    env: &str,
    changes: &StackChanges,
) -> Result<Vec<PlannedInstance>, ApiError> {
    if changes.create.is_empty() {
        return Ok(Vec::new());
    }
    let e = env.to_string();
    let (nodes, instances) = state
        .store(move |s| {
            let nodes = s.list(&Query::kind(Kind::Node).in_environment(&e))?;
            let insts = s.list(&Query::kind(Kind::Instance).in_environment(&e))?;
            Ok((nodes.items, insts.items))
        })
        .await?;
    let nodes: Vec<Node> = nodes.into_iter().map(decode).collect::<Result<_, _>>()?;
    let mut instances: Vec<Instance> = instances
        .into_iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    let mut new_names = BTreeSet::new();
    for svc in &changes.create {
        let count = match svc.spec.mode {
            ServiceMode::Replicated => svc.spec.scale as usize,
            ServiceMode::Global => nodes.len(),
        };
        for ordinal in 1..=count {
            let ordinal = u32::try_from(ordinal).unwrap_or(u32::MAX);
            let inst_name = InstanceSpec::instance_name(&svc.meta.name, ordinal);
            let pinned_node = match svc.spec.mode {
                ServiceMode::Global => nodes
                    .get(ordinal as usize - 1)
                    .map(|n| n.meta.name.clone())
                    .unwrap_or_default(),
                ServiceMode::Replicated => String::new(),
            };
            let inst: Instance = Object::new(
                Kind::Instance,
                env,
                &inst_name,
                InstanceSpec {
                    service: svc.meta.name.clone(),
                    ordinal,
                    launch: svc.spec.launch(),
                    pinned_node,
                    ..InstanceSpec::default()
                },
            );
            new_names.insert(inst_name);
            instances.push(inst);
        }
    }
    let mut out: Vec<PlannedInstance> = blocking(move || {
        let node_refs: Vec<&Node> = nodes.iter().collect();
        let inst_refs: Vec<&Instance> = instances.iter().collect();
        let strategies = BTreeMap::new();
        corral_controllers::placement::plan_placement(
            &node_refs,
            &inst_refs,
            &strategies,
            &corral_controllers::placement::fresh_demand,
        )
    })
    .await?
    .into_iter()
    .filter_map(|change| match change {
        corral_controllers::placement::PlacementChange::Place { name, node, .. } => {
            new_names.contains(&name).then(|| PlannedInstance {
                instance: name,
                node,
                reason: String::new(),
            })
        }
        corral_controllers::placement::PlacementChange::Unplaced { name, reason, .. } => {
            new_names.contains(&name).then(|| PlannedInstance {
                instance: name,
                node: String::new(),
                reason,
            })
        }
    })
    .collect();
    out.sort_by(|a, b| a.instance.cmp(&b.instance));
    Ok(out)
}

/// Compose files that deploy to the same stack again.
pub async fn export(
    state: &AppState,
    env: &str,
    name: &str,
) -> Result<Vec<corral_types::SourceFile>, ApiError> {
    crate::objects::get_object(state, Kind::Stack, env, name).await?;
    let services: Vec<Service> = services_of(state, env)
        .await?
        .into_iter()
        .filter(|s| s.spec.stack == name)
        .collect();
    let prefix = format!("{name}-");
    let mut by_compose_name = BTreeMap::new();
    let mut volumes = BTreeSet::new();
    for svc in services {
        for v in svc
            .spec
            .volumes
            .iter()
            .chain(svc.spec.sidekicks.iter().flat_map(|k| k.volumes.iter()))
        {
            if v.kind == MountKind::Volume && !v.source.is_empty() {
                volumes.insert(v.source.clone());
            }
        }
        let compose_name = svc
            .meta
            .name
            .strip_prefix(&prefix)
            .unwrap_or(&svc.meta.name)
            .to_string();
        by_compose_name.insert(compose_name, svc.spec);
    }
    Ok(corral_compose::export(name, &by_compose_name, &volumes))
}

/// Removes the stack and all its services at once; the controllers then
/// remove their instances.
pub async fn remove(
    state: &AppState,
    admission: &Admission,
    env: &str,
    name: &str,
) -> Result<RawObject, ApiError> {
    let stack = crate::objects::get_object(state, Kind::Stack, env, name).await?;
    let mut ops = vec![Op::Delete {
        kind: Kind::Stack,
        environment: env.to_string(),
        name: name.to_string(),
        revision: Some(stack.meta.revision),
    }];
    for svc in services_of(state, env)
        .await?
        .into_iter()
        .filter(|s| s.spec.stack == name)
    {
        ops.push(Op::Delete {
            kind: Kind::Service,
            environment: env.to_string(),
            name: svc.meta.name,
            revision: Some(svc.meta.revision),
        });
    }
    // The stack's own secrets and configs go with it (Swarm's `stack rm`).
    for kind in [FileKind::Secret, FileKind::Config] {
        let selector = corral_types::LabelSelector::equals(stack_files::STACK_LABEL, name);
        let q = Query::kind(kind.kind())
            .in_environment(env)
            .with_selector(selector);
        for own in state.store(move |s| s.list(&q)).await?.items {
            ops.push(Op::Delete {
                kind: kind.kind(),
                environment: env.to_string(),
                name: own.meta.name,
                revision: Some(own.meta.revision),
            });
        }
    }
    let mut done = admission.apply(ops).await?;
    Ok(done.remove(0))
}
