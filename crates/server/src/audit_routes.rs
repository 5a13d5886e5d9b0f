//! `GET /v1/audit`: the audit log, newest first (admins only).

use axum::Json;
use axum::extract::{Query, State};

use corral_api::{AuditQuery, AuditRecord, List};

use crate::error::ApiError;
use crate::state::AppState;

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<AuditQuery>,
) -> Result<Json<List<AuditRecord>>, ApiError> {
    let audit = state.audit.clone();
    let items = tokio::task::spawn_blocking(move || {
        audit.flush();
        audit.query(&query)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(format!("audit log: {e}")))?;
    Ok(Json(List::whole(items, 0)))
}
