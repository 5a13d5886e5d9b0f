//! `GET /v1/whoami`: the caller, how it authenticated, and its role in
//! each environment it sees (what the CLI and the UI's environment
//! switcher show).

use axum::extract::State;
use axum::{Extension, Json};

use corral_api::{EnvironmentRole, WhoAmI};
use corral_store::Query;
use corral_types::Kind;

use crate::access::cookie::CookieSession;
use crate::access::guard::env_role;
use crate::access::{Caller, Principal};
use crate::error::ApiError;
use crate::state::AppState;

pub async fn whoami(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    cookie: Option<Extension<CookieSession>>,
) -> Result<Json<WhoAmI>, ApiError> {
    let principal = caller.principal.clone();
    let environments = state
        .store(move |s| {
            let envs = s.list(&Query::kind(Kind::Environment))?;
            let mut out = Vec::new();
            for env in envs.items {
                let name = env.meta.name;
                let role = if principal.is_admin() {
                    Some("admin".to_string())
                } else {
                    match &principal {
                        Principal::Node { environment, .. }
                        | Principal::Registration { environment, .. } => {
                            (environment == &name).then(|| "node".to_string())
                        }
                        _ => env_role(s, &principal, &name)
                            .map_err(|e| corral_store::StoreError::Backend(e.to_string()))?
                            .map(|r| r.to_string()),
                    }
                };
                if let Some(role) = role {
                    out.push(EnvironmentRole {
                        environment: name,
                        role,
                    });
                }
            }
            Ok(out)
        })
        .await?;
    Ok(Json(WhoAmI {
        user: caller
            .principal
            .user()
            .map(str::to_string)
            .unwrap_or_else(|| caller.principal.who()),
        admin: caller.principal.is_admin(),
        method: caller.principal.method().to_string(),
        environments,
        ca_fingerprint: state.ca_fingerprint.to_string(),
        csrf_token: cookie.map(|c| c.0.csrf_token).unwrap_or_default(),
    }))
}
