//! Launching a catalog template as a stack, and upgrading or rolling it
//! back: the answers are checked against the version's questions, the
//! files rendered, and the stack deployed through the same path as `stack
//! deploy` (a dry run shows the plan and changes nothing; a changed
//! service rolls with its own upgrade settings). The stack remembers its
//! template, version and answers, and the ones before the last upgrade.
//! A password answer is stored as the stack's secret `<stack>_<variable>`
//! and remembered as that secret's marker: an upgrade or rollback that
//! gives no new password keeps the secret as it is.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use corral_api::{AppInfo, AppUpgradeRequest, DeployRequest, LaunchPlan, LaunchRequest};
use corral_catalog::RenderError;
use corral_store::Query;
use corral_types::{AppRef, Kind, QuestionType, Stack, TemplateInfo, VersionInfo, validate_name};

use crate::access::Caller;
use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::objects::{get_object, require_environment};
use crate::state::AppState;

/// Answers as a plan shows them: passwords hidden.
fn shown_answers(
    version: &VersionInfo,
    answers: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    answers
        .iter()
        .map(|(k, v)| {
            let password = version
                .meta
                .questions
                .iter()
                .any(|q| &q.variable == k && q.kind == QuestionType::Password);
            let shown = if password {
                "(password)".to_string()
            } else {
                v.clone()
            };
            (k.clone(), shown)
        })
        .collect()
}

/// What one install (launch, upgrade or rollback) is.
struct Install<'a> {
    env: &'a str,
    stack: &'a str,
    template: TemplateInfo,
    version: VersionInfo,
    answers: BTreeMap<String, String>,
    dry_run: bool,
    /// The app the stack runs now (kept for rollback).
    previous: Option<AppRef>,
}

async fn install(
    state: &AppState,
    caller: &Caller,
    i: Install<'_>,
) -> Result<LaunchPlan, ApiError> {
    let (v, stack, given) = (i.version.clone(), i.stack.to_string(), i.answers.clone());
    let rendered = tokio::task::spawn_blocking(move || corral_catalog::render(&v, &stack, &given))
        .await
        .map_err(|e| ApiError::Internal(format!("rendering {}: {e}", i.template.id)))?
        .map_err(|e| match e {
            RenderError::Answer(a) => {
                ApiError::invalid(format!("answers.{}", a.variable), a.to_string())
            }
            RenderError::Template(t) => ApiError::invalid("template", t),
        })?;
    check_references(state, i.env, &i.version, &rendered.variables).await?;
    let app = AppRef {
        template: i.template.id.clone(),
        version: i.version.folder.clone(),
        answers: rendered.variables.clone(),
        previous: i.previous.map(|mut p| {
            p.previous = None;
            Box::new(p)
        }),
    };
    // Each password given now is stored as its secret with the deploy.
    let secrets = rendered
        .secret_values
        .iter()
        .map(|(var, value)| {
            (
                corral_catalog::answer_secret_key(var),
                B64.encode(value.as_bytes()),
            )
        })
        .collect();
    let deploy = DeployRequest {
        files: rendered.files,
        variables: rendered.variables.clone(),
        secrets,
        dry_run: i.dry_run,
        ..DeployRequest::default()
    };
    let admission = Admission::new(state, caller);
    let plan =
        crate::stacks::deploy_request(state, &admission, i.env, i.stack, deploy, Some(app)).await?;
    Ok(LaunchPlan {
        template: i.template.id,
        version: i.version.folder.clone(),
        answers: shown_answers(&i.version, &rendered.variables),
        plan,
    })
}

/// A `service` answer names a service of the environment (`stack/service`;
/// a bare name is a service of the stack being launched) and a
/// `certificate` answer a stored certificate: both must exist.
async fn check_references(
    state: &AppState,
    env: &str,
    version: &VersionInfo,
    answers: &BTreeMap<String, String>,
) -> Result<(), ApiError> {
    for q in &version.meta.questions {
        let Some(value) = answers.get(&q.variable).filter(|v| !v.is_empty()) else {
            continue;
        };
        let (kind, name, what) = match q.kind {
            QuestionType::Service => match value.split_once('/') {
                Some((stack, service)) => (
                    Kind::Service,
                    corral_controllers::stack_plan::service_object_name(stack, service),
                    "service",
                ),
                None => continue,
            },
            QuestionType::Certificate => (Kind::Certificate, value.clone(), "certificate"),
            _ => continue,
        };
        if let Err(ApiError::NotFound(_)) = get_object(state, kind, env, &name).await {
            return Err(ApiError::invalid(
                format!("answers.{}", q.variable),
                format!(
                    "answer {:?}: no {what} {value:?} in environment {env:?}",
                    q.variable
                ),
            ));
        }
    }
    Ok(())
}

/// The stack `name` of `env` and the app it was launched as.
async fn app_of(state: &AppState, env: &str, name: &str) -> Result<(Stack, AppRef), ApiError> {
    let raw = get_object(state, Kind::Stack, env, name).await?;
    let stack: Stack =
        corral_types::Object::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let app = stack.spec.app.clone().ok_or_else(|| {
        ApiError::invalid(
            "stack",
            format!("stack {name:?} was not launched from a catalog template"),
        )
    })?;
    Ok((stack, app))
}

pub async fn launch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<LaunchPlan>, ApiError> {
    require_environment(&state, &env).await?;
    let req: LaunchRequest = decode_body(&body)?;
    validate_name("name", &req.name)?;
    if get_object(&state, Kind::Stack, &env, &req.name)
        .await
        .is_ok()
    {
        return Err(ApiError::Conflict(format!(
            "stack {:?} exists: upgrade it with corral app upgrade, or choose another name",
            req.name
        )));
    }
    let (template, version) = super::templates::find(&state, &env, &req.template)?;
    let i = Install {
        env: &env,
        stack: &req.name,
        template,
        version,
        answers: req.answers,
        dry_run: req.dry_run,
        previous: None,
    };
    Ok(Json(install(&state, &caller, i).await?))
}

pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
) -> Result<Json<Vec<AppInfo>>, ApiError> {
    require_environment(&state, &env).await?;
    let q = Query::kind(Kind::Stack).in_environment(&env);
    let listing = state.store(move |s| s.list(&q)).await?;
    let mut out = Vec::new();
    for raw in listing.items {
        let Ok(stack) = corral_types::Object::from_raw(raw) else {
            continue;
        };
        let stack: Stack = stack;
        let Some(app) = stack.spec.app else { continue };
        let found =
            super::templates::find(&state, &env, &format!("{}:{}", app.template, app.version)).ok();
        out.push(AppInfo {
            stack: stack.meta.name,
            catalog_version: found
                .as_ref()
                .map(|(_, v)| v.meta.version.clone())
                .unwrap_or_default(),
            upgrade_available: found
                .as_ref()
                .and_then(|(t, _)| corral_catalog::upgrade_available(t, &app.version)),
            can_roll_back: app.previous.is_some(),
            template: app.template,
            version: app.version,
        });
    }
    Ok(Json(out))
}

pub async fn upgrade(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<LaunchPlan>, ApiError> {
    require_environment(&state, &env).await?;
    let req: AppUpgradeRequest = decode_body(&body)?;
    let (_, app) = app_of(&state, &env, &name).await?;
    let (template, current) =
        super::templates::find(&state, &env, &format!("{}:{}", app.template, app.version))
            .or_else(|_| super::templates::find(&state, &env, &app.template))?;
    let folder = match req.version {
        Some(v) => v,
        None => corral_catalog::upgrade_available(&template, &app.version).ok_or_else(|| {
            ApiError::invalid(
                "version",
                format!(
                    "no later version of {} may replace version {}",
                    template.id, app.version
                ),
            )
        })?,
    };
    let (template, version) =
        super::templates::find(&state, &env, &format!("{}:{folder}", template.id))?;
    let from = &current.meta.version;
    if current.folder != version.folder
        && !corral_catalog::upgrade_allowed(version.meta.upgrade_from.as_deref(), from)
    {
        return Err(ApiError::invalid(
            "version",
            format!(
                "version {} of {} upgrades only from {:?}, and the stack runs {from:?}",
                version.folder,
                template.id,
                version.meta.upgrade_from.clone().unwrap_or_default()
            ),
        ));
    }
    // Answers carry over where the new version asks the same question.
    let mut answers: BTreeMap<String, String> = app
        .answers
        .iter()
        .filter(|(k, _)| version.meta.questions.iter().any(|q| &q.variable == *k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    answers.extend(req.answers);
    let i = Install {
        env: &env,
        stack: &name,
        template,
        version,
        answers,
        dry_run: req.dry_run,
        previous: Some(app),
    };
    Ok(Json(install(&state, &caller, i).await?))
}

pub async fn rollback(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, name)): Path<(String, String)>,
) -> Result<Json<LaunchPlan>, ApiError> {
    require_environment(&state, &env).await?;
    let (_, app) = app_of(&state, &env, &name).await?;
    let previous = app.previous.clone().ok_or_else(|| {
        ApiError::invalid(
            "stack",
            format!("stack {name:?} has no earlier version to roll back to"),
        )
    })?;
    let (template, version) = super::templates::find(
        &state,
        &env,
        &format!("{}:{}", previous.template, previous.version),
    )?;
    let i = Install {
        env: &env,
        stack: &name,
        template,
        version,
        answers: previous.answers.clone(),
        dry_run: false,
        previous: Some(app),
    };
    Ok(Json(install(&state, &caller, i).await?))
}
