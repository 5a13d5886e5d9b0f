//! `corral service rollback NAME`.

use corral_api::Client;
use corral_types::Service;

use crate::args::RollbackArgs;
use crate::errors::object_error;
use crate::output::print;

pub(super) async fn run(client: &Client, env: &str, args: &RollbackArgs) -> anyhow::Result<()> {
    let service = client
        .rollback_service(env, &args.name)
        .await
        .map_err(|e| object_error(e, "roll back", "service", env, &args.name))?;
    print(&rollback_message(&args.name, &service))?;
    if args.wait.wait {
        let scope = crate::wait::Scope::Service(&args.name);
        crate::wait::services(client, env, scope, args.wait.timeout).await?;
    }
    Ok(())
}

/// `web: rolling back to revision N`, N being the revision the rollback
/// records (the previous launch config, put back as the newest revision).
fn rollback_message(name: &str, service: &Service) -> String {
    let revision = service
        .status
        .upgrade
        .as_ref()
        .map(|u| u.revision)
        .or_else(|| service.status.history.last().map(|r| r.revision))
        .unwrap_or_default();
    format!("{name}: rolling back to revision {revision}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{Kind, LaunchRevision, Object, ServiceSpec, UpgradeState, UpgradeStatus};

    #[test]
    fn message_names_the_revision_rolled_out() {
        let mut s: Service = Object::new(Kind::Service, "default", "web", ServiceSpec::default());
        s.status.history = (1..=3)
            .map(|revision| LaunchRevision {
                revision,
                ..LaunchRevision::default()
            })
            .collect();
        assert_eq!(
            rollback_message("web", &s),
            "web: rolling back to revision 3\n"
        );
        s.status.upgrade = Some(UpgradeStatus {
            state: UpgradeState::RollingBack,
            revision: 4,
            ..UpgradeStatus::default()
        });
        assert_eq!(
            rollback_message("web", &s),
            "web: rolling back to revision 4\n"
        );
    }
}
