//! What a person's write checks besides the route's scope: the
//! environment is open for writes (it exists and is not deactivated), and
//! the policy for dangerous containers.

use corral_types::{Environment, EnvironmentSpec, Kind, MountKind, NetworkMode, Role, ServiceSpec};

use corral_store::{Store, StoreError};

use crate::access::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// The environment's spec; 404 if there is none, 409 if it is deactivated.
pub async fn environment_open_for_writes(
    state: &AppState,
    env: &str,
) -> Result<EnvironmentSpec, ApiError> {
    let name = env.to_string();
    state.store(move |s| Ok(environment_open(s, &name))).await?
}

/// [`environment_open_for_writes`] on a blocking thread with the store.
pub fn environment_open(store: &dyn Store, env: &str) -> Result<EnvironmentSpec, ApiError> {
    let raw = match store.get(Kind::Environment, env, env) {
        Ok(raw) => raw,
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::NotFound(format!("environment {env:?} not found")));
        }
        Err(e) => return Err(e.into()),
    };
    let env_obj = Environment::from_raw(raw)
        .map_err(|e| ApiError::Internal(format!("stored environment does not decode: {e}")))?;
    if env_obj.spec.deactivated {
        return Err(ApiError::Conflict(format!(
            "environment {env:?} is deactivated; activate it first (corral env activate {env})"
        )));
    }
    Ok(env_obj.spec)
}

/// The fields of `spec` that reach into the host, as `field: value`.
pub fn host_access_fields(spec: &ServiceSpec) -> Vec<String> {
    let mut found = Vec::new();
    if spec.privileged {
        found.push("spec.privileged: true".to_string());
    }
    if !spec.cap_add.is_empty() {
        found.push(format!("spec.cap_add: {}", spec.cap_add.join(", ")));
    }
    if spec.network_mode == NetworkMode::Host {
        found.push("spec.network_mode: host".to_string());
    }
    for (field, mode) in [
        ("pid_mode", spec.pid_mode),
        ("ipc_mode", spec.ipc_mode),
        ("uts_mode", spec.uts_mode),
    ] {
        if mode.is_host() {
            found.push(format!("spec.{field}: host"));
        }
    }
    for (i, v) in spec.volumes.iter().enumerate() {
        if v.kind == MountKind::Bind {
            found.push(format!("spec.volumes[{i}]: host path {}", v.source));
        }
    }
    for (i, side) in spec.sidekicks.iter().enumerate() {
        if side.privileged {
            found.push(format!("spec.sidekicks[{i}].privileged: true"));
        }
        for (j, v) in side.volumes.iter().enumerate() {
            if v.kind == MountKind::Bind {
                found.push(format!(
                    "spec.sidekicks[{i}].volumes[{j}]: host path {}",
                    v.source
                ));
            }
        }
    }
    found
}

/// Refuses (403, naming the field) a service that reaches into the host
/// when the caller's role or the environment's setting does not allow it.
pub fn check_service_host_access(
    caller: &Caller,
    env: &EnvironmentSpec,
    what: &str,
    spec: &ServiceSpec,
) -> Result<(), ApiError> {
    check_new_host_access(caller, env, what, spec, &[])
}

/// [`check_service_host_access`] for the fields of `spec` that are not in
/// `had` (what the stored service already had, granted by someone who
/// could: a restricted user may scale it, not add to it).
pub fn check_new_host_access(
    caller: &Caller,
    env: &EnvironmentSpec,
    what: &str,
    spec: &ServiceSpec,
    had: &[String],
) -> Result<(), ApiError> {
    if caller.principal.is_admin() {
        return Ok(());
    }
    let found = host_access_fields(spec);
    let Some(first) = found.iter().find(|f| !had.contains(f)) else {
        return Ok(());
    };
    if caller.role == Some(Role::Restricted) {
        return Err(ApiError::Forbidden(format!(
            "{what}: {first} is host access, which the role restricted may not use"
        )));
    }
    if env.allow_host_access == Some(false) {
        return Err(ApiError::Forbidden(format!(
            "{what}: {first} is host access, which this environment does not allow (allow_host_access: false)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Principal;
    use crate::access::rules::{Resource, Rule, Verb};
    use corral_types::VolumeMount;

    fn caller(role: Role) -> Caller {
        Caller::new(
            Principal::test_user("u"),
            Some(role),
            "test".into(),
            Rule::env(Resource::Workloads, Verb::Write),
            Some("dev".into()),
        )
    }

    fn privileged() -> ServiceSpec {
        ServiceSpec {
            image: "x".into(),
            privileged: true,
            ..ServiceSpec::default()
        }
    }

    #[test]
    fn a_restricted_user_may_not_run_a_privileged_container() {
        let env = EnvironmentSpec::default();
        let err = check_service_host_access(
            &caller(Role::Restricted),
            &env,
            "service web",
            &privileged(),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("spec.privileged"), "{err}");
        assert!(check_service_host_access(&caller(Role::Member), &env, "s", &privileged()).is_ok());
    }

    #[test]
    fn an_environment_can_refuse_host_access_to_members_and_owners() {
        let env = EnvironmentSpec {
            allow_host_access: Some(false),
            ..EnvironmentSpec::default()
        };
        let mut spec = ServiceSpec {
            image: "x".into(),
            ..ServiceSpec::default()
        };
        spec.volumes.push(VolumeMount {
            kind: MountKind::Bind,
            source: "/etc".into(),
            target: "/host-etc".into(),
            read_only: true,
        });
        let err = check_service_host_access(&caller(Role::Owner), &env, "s", &spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("spec.volumes[0]"), "{err}");
    }

    #[test]
    fn host_network_and_capabilities_count_as_host_access() {
        let spec = ServiceSpec {
            image: "x".into(),
            cap_add: vec!["NET_ADMIN".into()],
            network_mode: NetworkMode::Host,
            ..ServiceSpec::default()
        };
        let found = host_access_fields(&spec);
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn host_pid_ipc_and_uts_are_host_access_refused_like_the_host_network() {
        let spec = ServiceSpec {
            image: "x".into(),
            pid_mode: corral_types::NamespaceMode::Host,
            ipc_mode: corral_types::NamespaceMode::Host,
            uts_mode: corral_types::NamespaceMode::Host,
            ..ServiceSpec::default()
        };
        assert_eq!(
            host_access_fields(&spec),
            [
                "spec.pid_mode: host",
                "spec.ipc_mode: host",
                "spec.uts_mode: host"
            ]
        );
        let open = EnvironmentSpec::default();
        let err = check_service_host_access(&caller(Role::Restricted), &open, "s", &spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("spec.pid_mode: host") && err.contains("restricted"),
            "{err}"
        );
        let closed = EnvironmentSpec {
            allow_host_access: Some(false),
            ..EnvironmentSpec::default()
        };
        let err = check_service_host_access(&caller(Role::Owner), &closed, "s", &spec)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("allow_host_access: false"), "{err}");
        assert!(check_service_host_access(&caller(Role::Member), &open, "s", &spec).is_ok());
    }
}
