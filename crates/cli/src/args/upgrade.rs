//! `corral service upgrade` and `corral service rollback`.

use clap::Args;
use clap::builder::{PossibleValuesParser, TypedValueParser};
use corral_types::FailureAction;

use super::duration::parse_duration_ms;
use super::{WaitArgs, parse_env_var, parse_name};

/// Everything but `--pause` and `--resume`, which take no other flag.
const CHANGES: [&str; 9] = [
    "image",
    "env",
    "env_rm",
    "command",
    "batch_size",
    "interval_ms",
    "start_first",
    "stop_first",
    "failure_action",
];

#[derive(Debug, Clone, Args)]
pub struct UpgradeArgs {
    /// Service name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// New image to run.
    #[arg(long)]
    pub image: Option<String>,
    /// Set an environment variable (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env_var)]
    pub env: Vec<(String, String)>,
    /// Remove an environment variable (repeatable).
    #[arg(long = "env-rm", value_name = "KEY", value_parser = parse_env_key)]
    pub env_rm: Vec<String>,
    /// Instances replaced at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Option<u32>,
    /// Wait between batches (such as 10s, 500ms, 1m30s).
    #[arg(long = "interval", value_name = "DURATION", value_parser = parse_duration_ms)]
    pub interval_ms: Option<u64>,
    /// Start each replacement before stopping the instance it replaces.
    #[arg(long, conflicts_with = "stop_first")]
    pub start_first: bool,
    /// Stop each instance before starting its replacement.
    #[arg(long)]
    pub stop_first: bool,
    /// What to do when a new instance fails: rollback, pause or continue.
    #[arg(
        long,
        value_name = "ACTION",
        value_parser = PossibleValuesParser::new(["rollback", "pause", "continue"])
            .map(|s| failure_action(&s)),
    )]
    pub failure_action: Option<FailureAction>,
    /// Pause the rollout in progress.
    #[arg(long, conflicts_with_all = CHANGES, conflicts_with = "resume")]
    pub pause: bool,
    /// Resume a paused rollout.
    #[arg(long, conflicts_with_all = CHANGES)]
    pub resume: bool,
    #[command(flatten)]
    pub wait: WaitArgs,
    /// New arguments for the image's entrypoint.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn failure_action(s: &str) -> FailureAction {
    match s {
        "pause" => FailureAction::Pause,
        "continue" => FailureAction::Continue,
        _ => FailureAction::Rollback,
    }
}

impl UpgradeArgs {
    /// Whether any flag changes the service's spec.
    pub fn has_changes(&self) -> bool {
        self.image.is_some()
            || !self.env.is_empty()
            || !self.env_rm.is_empty()
            || !self.command.is_empty()
            || self.batch_size.is_some()
            || self.interval_ms.is_some()
            || self.start_first
            || self.stop_first
            || self.failure_action.is_some()
    }
}

#[derive(Debug, Clone, Args)]
pub struct RollbackArgs {
    /// Service name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    #[command(flatten)]
    pub wait: WaitArgs,
}

/// `--env-rm KEY`: a variable name.
fn parse_env_key(s: &str) -> Result<String, String> {
    if s.is_empty() || s.contains('=') || s.contains('\0') {
        return Err(format!("{s:?} is not a variable name (no '=', not empty)"));
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, PsArgs, ServiceCmd};
    use crate::output::Format;
    use clap::Parser;

    fn service(args: &[&str]) -> Result<ServiceCmd, String> {
        let argv = ["corral", "service"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Service(cmd),
                ..
            }) => Ok(cmd),
            Ok(other) => Err(format!("not a service verb: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn upgrade(args: &[&str]) -> UpgradeArgs {
        let mut all = vec!["upgrade"];
        all.extend_from_slice(args);
        match service(&all) {
            Ok(ServiceCmd::Upgrade(u)) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn upgrade_parses_every_flag() {
        let u = upgrade(&[
            "web",
            "--image",
            "nginx:2",
            "-e",
            "A=1",
            "--env-rm",
            "B",
            "--batch-size",
            "2",
            "--interval",
            "1m30s",
            "--start-first",
            "--failure-action",
            "pause",
            "--",
            "nginx",
            "-g",
            "daemon off;",
        ]);
        assert_eq!(u.name, "web");
        assert_eq!(u.image.as_deref(), Some("nginx:2"));
        assert_eq!(u.env, [("A".to_string(), "1".to_string())]);
        assert_eq!(u.env_rm, ["B"]);
        assert_eq!(u.batch_size, Some(2));
        assert_eq!(u.interval_ms, Some(90_000));
        assert!(u.start_first && !u.stop_first);
        assert_eq!(u.failure_action, Some(FailureAction::Pause));
        assert_eq!(u.command, ["nginx", "-g", "daemon off;"]);
        assert!(u.has_changes() && !u.pause && !u.resume);
    }

    #[test]
    fn upgrade_pause_and_resume_stand_alone() {
        let u = upgrade(&["web", "--pause"]);
        assert!(u.pause && !u.has_changes());
        let u = upgrade(&["web", "--resume"]);
        assert!(u.resume && !u.has_changes());
        assert!(!upgrade(&["web"]).has_changes());
        let e = service(&["upgrade", "web", "--pause", "--image", "x"]).unwrap_err();
        assert!(e.contains("--pause") && e.contains("--image"), "{e}");
        let e = service(&["upgrade", "web", "--pause", "--resume"]).unwrap_err();
        assert!(e.contains("--resume"), "{e}");
        assert!(service(&["upgrade", "web", "--resume", "--", "x"]).is_err());
    }

    #[test]
    fn upgrade_rejects_bad_values() {
        let e = service(&["upgrade", "web", "--failure-action", "retry"]).unwrap_err();
        assert!(e.contains("retry") && e.contains("rollback"), "{e}");
        let e = service(&["upgrade", "web", "--batch-size", "0"]).unwrap_err();
        assert!(e.contains("--batch-size"), "{e}");
        let e = service(&["upgrade", "web", "--interval", "10"]).unwrap_err();
        assert!(e.contains("--interval") && e.contains("\"10\""), "{e}");
        let e = service(&["upgrade", "web", "--env-rm", "A=1"]).unwrap_err();
        assert!(e.contains("--env-rm") && e.contains("A=1"), "{e}");
        let e = service(&["upgrade", "web", "-e", "A"]).unwrap_err();
        assert!(e.contains("KEY=VALUE"), "{e}");
        let e = service(&["upgrade", "web", "--start-first", "--stop-first"]).unwrap_err();
        assert!(e.contains("--stop-first"), "{e}");
        assert!(service(&["upgrade"]).is_err());
        assert!(service(&["upgrade", "Web"]).is_err());
    }

    #[test]
    fn rollback_and_history_take_a_name() {
        match service(&["rollback", "web"]) {
            Ok(ServiceCmd::Rollback(r)) => assert_eq!(r.name, "web"),
            other => panic!("{other:?}"),
        }
        assert!(service(&["rollback"]).is_err());
        assert!(service(&["rollback", "a", "b"]).is_err());
        match service(&["history", "web", "-o", "json"]) {
            Ok(ServiceCmd::History(PsArgs { name, output, .. })) => {
                assert_eq!((name.as_str(), output), ("web", Format::Json))
            }
            other => panic!("{other:?}"),
        }
        assert!(service(&["history", "web", "-o", "xml"]).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("0"), Ok(0));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("1m30s"), Ok(90_000));
        assert_eq!(parse_duration_ms("2h"), Ok(7_200_000));
        for bad in [
            "",
            "10",
            "s",
            "1.5s",
            "10d",
            "-1s",
            "1s2",
            "99999999999999999h",
        ] {
            let e = parse_duration_ms(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }
}
