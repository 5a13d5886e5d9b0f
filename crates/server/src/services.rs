//! Service verbs beyond CRUD.

use corral_api::ScaleRequest;
use corral_types::{Kind, RawObject, Service, UpgradeState};

use crate::admission::{Admission, Edit};
use crate::error::{ApiError, decode_body};

/// Sets `spec.scale`.
pub async fn scale(
    admission: &Admission,
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
    admission
        .edit(Kind::Service, env, name, |svc: &mut RawObject| {
            if svc.spec.get("scale").and_then(|v| v.as_u64()) == Some(u64::from(req.scale)) {
                return Ok(Edit::Keep);
            }
            if let Some(spec) = svc.spec.as_object_mut() {
                spec.insert("scale".into(), req.scale.into());
            }
            Ok(Edit::Write)
        })
        .await
}

/// Puts the previous launch config back and rolls it out with the rollback settings.
pub async fn rollback(admission: &Admission, env: &str, name: &str) -> Result<RawObject, ApiError> {
    let now = admission.state().clock.now_rfc3339();
    admission
        .edit(Kind::Service, env, name, |svc: &mut Service| {
            let Some((spec, status)) =
                corral_controllers::rollout::begin_rollback(svc, "rollback requested", &now)
            else {
                return Err(ApiError::Conflict(format!(
                    "service {name:?} has no earlier launch config to roll back to"
                )));
            };
            svc.spec = spec;
            svc.status = status;
            Ok(Edit::Write)
        })
        .await
}

/// Pauses a rollout in progress, or resumes a paused one.
pub async fn pause(
    admission: &Admission,
    env: &str,
    name: &str,
    pause: bool,
) -> Result<RawObject, ApiError> {
    admission
        .edit(Kind::Service, env, name, |svc: &mut Service| {
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
            Ok(Edit::Write)
        })
        .await
}
