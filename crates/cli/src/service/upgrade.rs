//! `corral service upgrade NAME ...`: change a service's launch config (a
//! rolling upgrade) or its upgrade settings, or pause or resume its rollout.

use anyhow::bail;
use corral_api::Client;
use corral_types::{Service, UpdateOrder};

use crate::args::UpgradeArgs;
use crate::errors::object_error;
use crate::output::print;

pub(super) async fn run(client: &Client, env: &str, args: &UpgradeArgs) -> anyhow::Result<()> {
    let name = &args.name;
    if args.pause || args.resume {
        let (verb, done) = if args.pause {
            ("pause the upgrade of", "pause requested")
        } else {
            ("resume the upgrade of", "upgrade resumed")
        };
        client
            .pause_service(env, name, args.pause)
            .await
            .map_err(|e| object_error(e, verb, "service", env, name))?;
        print(&format!("{name}: {done}\n"))?;
        return wait_if_asked(client, env, args).await;
    }
    if !args.has_changes() {
        bail!(
            "nothing to upgrade in service {name:?}: give --image, -e, --env-rm, --batch-size, \
             --interval, --start-first, --stop-first, --failure-action or a command after --, \
             or --pause or --resume"
        );
    }
    // A 409 means the service changed since it was read: read it again, once.
    let mut retried = false;
    loop {
        let current = super::get(client, env, name).await?;
        let wanted = upgraded(&current, args)?;
        if wanted.spec == current.spec {
            return print(&format!(
                "{name}: unchanged (revision {})\n",
                current_revision(&current)
            ));
        }
        match client.update(&wanted).await {
            Ok(_) => {
                print(&upgrade_message(&current, &wanted))?;
                return wait_if_asked(client, env, args).await;
            }
            Err(e) if e.is_conflict() && !retried => retried = true,
            Err(e) => return Err(object_error(e, "upgrade", "service", env, name)),
        }
    }
}

/// With `--wait`, follows the rollout to its end.
async fn wait_if_asked(client: &Client, env: &str, args: &UpgradeArgs) -> anyhow::Result<()> {
    if !args.wait.wait {
        return Ok(());
    }
    let scope = crate::wait::Scope::Service(&args.name);
    crate::wait::services(client, env, scope, args.wait.timeout).await
}

/// The service with the flags applied, checked as the server would check it.
/// Its `meta.revision` is still the one read, so a concurrent change is a 409.
pub(super) fn upgraded(current: &Service, args: &UpgradeArgs) -> anyhow::Result<Service> {
    let name = &args.name;
    let mut next = current.clone();
    let spec = &mut next.spec;
    if let Some(image) = &args.image {
        spec.image = image.clone();
    }
    let mut seen = std::collections::BTreeSet::new();
    for (k, v) in &args.env {
        if !seen.insert(k.as_str()) {
            bail!("-e {k}=...: {k:?} is given more than once");
        }
        spec.env.insert(k.clone(), v.clone());
    }
    for k in &args.env_rm {
        if seen.contains(k.as_str()) {
            bail!("--env-rm {k}: {k:?} is also set with -e");
        }
        if spec.env.remove(k).is_none() {
            bail!("--env-rm {k}: service {name:?} has no variable {k:?}");
        }
    }
    if !args.command.is_empty() {
        spec.command = args.command.clone();
    }
    if let Some(n) = args.batch_size {
        spec.update.batch_size = n;
    }
    if let Some(ms) = args.interval_ms {
        spec.update.interval_ms = ms;
    }
    if args.start_first {
        spec.update.order = UpdateOrder::StartFirst;
    }
    if args.stop_first {
        spec.update.order = UpdateOrder::StopFirst;
    }
    if let Some(action) = args.failure_action {
        spec.update.failure_action = action;
    }
    spec.validate()
        .map_err(|e| anyhow::anyhow!("invalid upgrade of service {name:?}: {e}"))?;
    Ok(next)
}

/// The revision the service runs now: the last of its history.
fn current_revision(service: &Service) -> u64 {
    service.status.history.last().map_or(0, |r| r.revision)
}

/// `web: upgrading to revision N` when the launch config changes (N being
/// the next revision), else a note that only the upgrade settings changed.
pub(super) fn upgrade_message(current: &Service, wanted: &Service) -> String {
    let name = &current.meta.name;
    let revision = current_revision(current);
    if wanted.spec.launch() == current.spec.launch() {
        format!("{name}: upgrade settings changed; launch config unchanged (revision {revision})\n")
    } else {
        format!("{name}: upgrading to revision {}\n", revision + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, ServiceCmd};
    use clap::Parser;
    use corral_types::{FailureAction, Kind, LaunchRevision, Object, ServiceSpec};

    fn args(extra: &[&str]) -> UpgradeArgs {
        let argv = ["corral", "service", "upgrade", "web"]
            .into_iter()
            .chain(extra.iter().copied());
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Service(ServiceCmd::Upgrade(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    fn service() -> Service {
        let spec = ServiceSpec {
            image: "nginx:1".into(),
            scale: 2,
            env: [("A".to_string(), "1".to_string()), ("B".into(), "2".into())].into(),
            command: vec!["nginx".into()],
            ..ServiceSpec::default()
        };
        let mut s: Service = Object::new(Kind::Service, "default", "web", spec);
        s.meta.revision = 41;
        s.status.history = vec![
            LaunchRevision {
                revision: 1,
                ..LaunchRevision::default()
            },
            LaunchRevision {
                revision: 2,
                launch: s.spec.launch(),
                ..LaunchRevision::default()
            },
        ];
        s
    }

    #[test]
    fn flags_change_the_spec_and_keep_the_revision_read() {
        let a = args(&[
            "--image",
            "nginx:2",
            "-e",
            "A=9",
            "-e",
            "C=3",
            "--env-rm",
            "B",
            "--batch-size",
            "2",
            "--interval",
            "10s",
            "--start-first",
            "--failure-action",
            "continue",
            "--",
            "httpd",
            "-f",
        ]);
        let s = service();
        let next = upgraded(&s, &a).unwrap();
        assert_eq!(next.meta.revision, 41);
        assert_eq!(next.spec.image, "nginx:2");
        let env: Vec<(&str, &str)> = next
            .spec
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(env, [("A", "9"), ("C", "3")]);
        assert_eq!(next.spec.command, ["httpd", "-f"]);
        assert_eq!(next.spec.update.batch_size, 2);
        assert_eq!(next.spec.update.interval_ms, 10_000);
        assert_eq!(next.spec.update.order, UpdateOrder::StartFirst);
        assert_eq!(next.spec.update.failure_action, FailureAction::Continue);
        assert_eq!(next.spec.scale, 2);
        assert_eq!(upgrade_message(&s, &next), "web: upgrading to revision 3\n");
    }

    #[test]
    fn settings_only_change_records_no_revision() {
        let s = service();
        let next = upgraded(&s, &args(&["--batch-size", "3"])).unwrap();
        assert_eq!(
            upgrade_message(&s, &next),
            "web: upgrade settings changed; launch config unchanged (revision 2)\n"
        );
        let same = upgraded(&s, &args(&["--image", "nginx:1"])).unwrap();
        assert_eq!(same.spec, s.spec);
    }

    #[test]
    fn bad_upgrades_name_the_fault() {
        let s = service();
        let e = upgraded(&s, &args(&["--env-rm", "Z"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--env-rm Z") && e.contains("\"web\""), "{e}");
        let e = upgraded(&s, &args(&["-e", "A=1", "--env-rm", "A"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--env-rm A"), "{e}");
        let e = upgraded(&s, &args(&["-e", "A=1", "-e", "A=2"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("more than once"), "{e}");
        let e = upgraded(&s, &args(&["--image", "bad image"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.image") && e.contains("\"web\""), "{e}");
    }
}
