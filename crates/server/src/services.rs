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

fn decode_service(raw: RawObject) -> Result<corral_types::Service, ApiError> {
    corral_types::Service::from_raw(raw).map_err(|e| ApiError::Internal(e.to_string()))
}

fn encode_service(svc: &corral_types::Service) -> Result<RawObject, ApiError> {
    svc.to_raw().map_err(|e| ApiError::Internal(e.to_string()))
}

/// Puts the previous launch config back and rolls it out with the rollback settings.
pub async fn rollback(state: &AppState, env: &str, name: &str) -> Result<RawObject, ApiError> {
    for _ in 0..10 {
        let mut svc = decode_service(get_object(state, Kind::Service, env, name).await?)?;
        let now = state.clock.now_rfc3339();
        let Some((spec, status)) =
            corral_controllers::rollout::begin_rollback(&svc, "rollback requested", &now)
        else {
            return Err(ApiError::Conflict(format!(
                "service {name:?} has no earlier launch config to roll back to"
            )));
        };
        svc.spec = spec;
        svc.status = status;
        svc.meta.generation += 1;
        let raw = encode_service(&svc)?;
        match state.store(move |s| s.update(raw)).await {
            Err(ApiError::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict(format!(
        "service {name:?} keeps changing; try again"
    )))
}

/// Pauses a rollout in progress, or resumes a paused one.
pub async fn pause(
    state: &AppState,
    env: &str,
    name: &str,
    pause: bool,
) -> Result<RawObject, ApiError> {
    use corral_types::UpgradeState;
    for _ in 0..10 {
        let mut svc = decode_service(get_object(state, Kind::Service, env, name).await?)?;
        let Some(up) = svc.status.upgrade.as_mut() else {
            return Err(ApiError::Conflict(format!(
                "service {name:?} has no upgrade to pause or resume"
            )));
        };
        match (pause, up.state) {
            (true, UpgradeState::Upgrading | UpgradeState::RollingBack) => {
                up.pause_requested = true
            }
            (false, UpgradeState::Paused) => {
                up.pause_requested = false;
                up.state = UpgradeState::Upgrading;
                up.reason.clear();
                up.finished_at.clear();
                up.batch_started_ms = 0;
            }
            (true, state) | (false, state) => {
                let verb = if pause { "pause" } else { "resume" };
                return Err(ApiError::Conflict(format!(
                    "service {name:?}: cannot {verb} an upgrade that is {state}"
                )));
            }
        }
        let raw = encode_service(&svc)?;
        match state.store(move |s| s.update(raw)).await {
            Err(ApiError::Conflict(_)) => continue,
            other => return other,
        }
    }
    Err(ApiError::Conflict(format!(
        "service {name:?} keeps changing; try again"
    )))
}
