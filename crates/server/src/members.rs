//! `/v1/environments/{env}/members`: who has which role in an environment
//! (a user, or every member of a directory group as `group:NAME`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};

use corral_api::MemberRequest;
use corral_store::{Query, StoreError};
use corral_types::{Kind, Member, MemberSpec, Object, RawObject};

use crate::access::Caller;
use crate::admission::Admission;
use crate::error::{ApiError, decode_body};
use crate::objects::{ListParams, get_object, list_or_watch, require_environment};
use crate::state::AppState;

/// The members of `env`, or with `?watch=true&revision=N` their changes.
pub async fn list(
    State(state): State<AppState>,
    Path(env): Path<String>,
    axum::extract::Query(params): axum::extract::Query<ListParams>,
) -> Result<Response, ApiError> {
    require_environment(&state, &env).await?;
    let query = Query::kind(Kind::Member).in_environment(&env);
    list_or_watch(&state, query, params, |member| member).await
}

/// Adds a binding, or changes the role of the subject's binding.
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(env): Path<String>,
    body: Bytes,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let req: MemberRequest = decode_body(&body)?;
    let spec = MemberSpec {
        subject: req.subject.trim().to_string(),
        role: req.role,
    };
    spec.validate()?;
    if let Some(group) = spec.subject.strip_prefix("group:")
        && group.is_empty()
    {
        return Err(ApiError::invalid("subject", "group: needs a group name"));
    }
    // A user binding names a user the server knows (local, or a directory
    // user who has logged in once); a group is the directory's to know.
    if !spec.subject.starts_with("group:") {
        let user = spec.subject.clone();
        let known = state
            .store(
                move |s| match s.get(Kind::User, corral_types::GLOBAL, &user) {
                    Ok(_) => Ok(true),
                    Err(StoreError::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e),
                },
            )
            .await?;
        if !known {
            return Err(ApiError::invalid(
                "subject",
                format!(
                    "no user {:?}; create it (corral user create) or let it log in once from the directory",
                    spec.subject
                ),
            ));
        }
    }
    let name = MemberSpec::object_name(&spec.subject);
    corral_types::validate_name("subject", &name)?;
    match get_object(&state, Kind::Member, &env, &name).await {
        Ok(existing) => {
            let mut member: Member = Object::from_raw(existing)
                .map_err(|e| ApiError::Internal(format!("stored member does not decode: {e}")))?;
            if !member.spec.subject.eq_ignore_ascii_case(&spec.subject) {
                return Err(ApiError::Conflict(format!(
                    "{:?} and the member {:?} share an object name; remove that one first",
                    spec.subject, member.spec.subject
                )));
            }
            if member.spec == spec {
                return member
                    .to_raw()
                    .map(Json)
                    .map_err(|e| ApiError::Internal(e.to_string()));
            }
            member.spec = spec;
            member.meta.generation += 1;
            let raw = member
                .to_raw()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Json(Admission::new(&state, &caller).update(raw).await?))
        }
        Err(ApiError::NotFound(_)) => {
            let mut member: Member = Object::new(Kind::Member, &env, &name, spec);
            member.meta.uid = corral_controllers::new_uid();
            member.meta.created = state.clock.now_rfc3339();
            member.meta.generation = 1;
            let raw = member
                .to_raw()
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(Json(Admission::new(&state, &caller).create(raw).await?))
        }
        Err(e) => Err(e),
    }
}

/// Removes the binding of a subject (`alice`, `group:devs`).
pub async fn remove(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((env, subject)): Path<(String, String)>,
) -> Result<Json<RawObject>, ApiError> {
    require_environment(&state, &env).await?;
    let name = MemberSpec::object_name(&subject);
    let found = match get_object(&state, Kind::Member, &env, &name).await {
        Ok(raw) => raw,
        Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!(
                "{subject:?} is not a member of environment {env:?}"
            )));
        }
        Err(e) => return Err(e),
    };
    let revision = found.meta.revision;
    let deleted = Admission::new(&state, &caller)
        .delete(Kind::Member, &env, &name, Some(revision))
        .await?;
    Ok(Json(deleted))
}
