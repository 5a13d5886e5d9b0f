//! Answers for requests no route takes: an anonymous caller gets 401
//! (it learns nothing about which paths exist), anyone else 404 or 405.

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};

use crate::access::authenticate::authenticate;
use crate::access::guard::bearer;
use crate::error::ApiError;
use crate::state::AppState;

async fn authenticated(state: &AppState, token: Option<String>) -> Result<(), ApiError> {
    let admin = state.admin_token.clone();
    let now = state.clock.now_ms();
    match state
        .store(move |s| Ok(authenticate(s, &admin, token.as_deref(), now)))
        .await??
    {
        Ok(_) => Ok(()),
        Err(failure) => Err(ApiError::Unauthorized(failure.to_string())),
    }
}

/// 401 for an anonymous caller, else the error `answer` makes of the
/// request's method and path.
async fn refuse(
    state: AppState,
    req: Request,
    answer: fn(&axum::http::Method, &str) -> ApiError,
) -> Response {
    let (token, method, path) = (
        bearer(&req),
        req.method().clone(),
        req.uri().path().to_string(),
    );
    drop(req);
    if let Err(e) = authenticated(&state, token).await {
        return e.into_response();
    }
    answer(&method, &path).into_response()
}

pub async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    refuse(state, req, |method, path| {
        ApiError::NotFound(format!(
            "no such endpoint: {method} {path}; see /openapi.json"
        ))
    })
    .await
}

pub async fn method_not_allowed(State(state): State<AppState>, req: Request) -> Response {
    refuse(state, req, |method, path| {
        ApiError::MethodNotAllowed(format!(
            "{method} is not allowed on {path}; see /openapi.json"
        ))
    })
    .await
}
