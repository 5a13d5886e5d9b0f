//! Launching a catalog template as a stack: the answers are checked
//! against the version's questions, the files rendered, and the stack
//! deployed through the same path as `stack deploy` (a dry run shows the
//! plan and changes nothing). The stack remembers its template, version
//! and answers.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::{Extension, Json};

use corral_api::{DeployRequest, LaunchPlan, LaunchRequest};
use corral_catalog::RenderError;
use corral_types::{AppRef, QuestionType, VersionInfo, validate_name};

use crate::access::Caller;
use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::objects::require_environment;
use crate::state::AppState;

/// Answers as a plan shows them: passwords hidden.
fn shown_answers(
    version: &VersionInfo,
    answers: &std::collections::BTreeMap<String, String>,
) -> std::collections::BTreeMap<String, String> {
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

pub async fn launch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<LaunchPlan>, ApiError> {
    require_environment(&state, &env).await?;
    let req: LaunchRequest = decode_body(&body)?;
    validate_name("name", &req.name)?;
    let (template, version) = super::templates::find(&state, &env, &req.template)?;
    let (v, stack, given) = (version.clone(), req.name.clone(), req.answers.clone());
    let rendered = tokio::task::spawn_blocking(move || corral_catalog::render(&v, &stack, &given))
        .await
        .map_err(|e| ApiError::Internal(format!("rendering {}: {e}", req.template)))?
        .map_err(|e| match e {
            RenderError::Answer(a) => {
                ApiError::invalid(format!("answers.{}", a.variable), a.to_string())
            }
            RenderError::Template(t) => ApiError::invalid("template", t),
        })?;
    let app = AppRef {
        template: template.id.clone(),
        version: version.folder.clone(),
        answers: rendered.variables.clone(),
        previous: None,
    };
    let deploy = DeployRequest {
        files: rendered.files,
        variables: rendered.variables.clone(),
        dry_run: req.dry_run,
        ..DeployRequest::default()
    };
    let admission = Admission::new(&state, &caller);
    let plan =
        crate::stacks::deploy_request(&state, &admission, &env, &req.name, deploy, Some(app))
            .await?;
    Ok(Json(LaunchPlan {
        template: template.id,
        version: version.folder.clone(),
        answers: shown_answers(&version, &rendered.variables),
        plan,
    }))
}
