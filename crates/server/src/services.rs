//! Service verbs beyond CRUD.

use corral_api::ScaleRequest;
use corral_types::{Kind, RawObject};

use crate::error::{ApiError, decode_body};
use crate::objects::get_object;
use crate::state::AppState;

/// Sets `spec.scale`, retrying when another writer got there first.
pub async fn scale(
    state: &AppState,
    env: &str,
    name: &str,
    body: &[u8],
) -> Result<RawObject, ApiError> {
    let req: ScaleRequest = decode_body(body)?;
    if req.scale > corral_types::MAX_SCALE {
        return Err(ApiError::invalid(
            "scale",
            format!(
                "{} is above the maximum of {}",
                req.scale,
                corral_types::MAX_SCALE
            ),
        ));
    }
    for _ in 0..10 {
        let mut svc = get_object(state, Kind::Service, env, name).await?;
        if svc.spec.get("scale").and_then(|v| v.as_u64()) == Some(u64::from(req.scale)) {
            return Ok(svc);
        }
        if let Some(spec) = svc.spec.as_object_mut() {
            spec.insert("scale".into(), req.scale.into());
        }
        svc.meta.generation += 1;
        match state.store(move |s| s.update(svc)).await {
            Err(ApiError::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict(format!(
        "service {name:?} keeps changing; try again"
    )))
}
