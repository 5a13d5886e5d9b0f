//! The arguments of `corral node drain|activate|rm` and the server's node
//! liveness flags.

use std::time::Duration;

use clap::Args;

use super::{parse_duration, parse_name};

#[derive(Debug, Clone, Args)]
pub struct NodeNameArgs {
    /// Node name.
    #[arg(value_parser = parse_name)]
    pub name: String,
}

#[derive(Debug, Clone, Args)]
pub struct DrainArgs {
    /// Node name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Wait until no instance is left on the node.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits before giving up (the drain goes on).
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct NodeRmArgs {
    /// Node name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Remove it even while it is active and runs instances (they are
    /// rescheduled on other nodes; stop its agent first, or it joins again).
    #[arg(short, long)]
    pub force: bool,
}

/// How the server tells live nodes from lost ones.
#[derive(Debug, Clone, Args)]
pub struct LivenessArgs {
    /// A node without a heartbeat for this long is marked disconnected
    /// (never less than three heartbeat intervals, which grow past 250
    /// nodes).
    #[arg(long, default_value = "5s", value_name = "DURATION", value_parser = parse_node_timeout)]
    pub node_timeout: Duration,
    /// How long a node stays disconnected before its instances are
    /// rescheduled on other nodes (0: at once).
    #[arg(long, default_value = "0s", value_name = "DURATION", value_parser = parse_duration)]
    pub reschedule_after: Duration,
}

/// A node timeout: a duration of at least one second (the shortest
/// heartbeat interval).
pub fn parse_node_timeout(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{s:?} is too short: the node timeout is at least 1s"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, NodeCmd};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let mut all = vec!["corral"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all).map_err(|e| e.to_string())
    }

    #[test]
    fn server_liveness_flags_default_to_five_seconds_and_no_delay() {
        let Command::Server(args) = parse(&["server"]).unwrap().command else {
            panic!("not server")
        };
        assert_eq!(args.liveness.node_timeout, Duration::from_secs(5));
        assert_eq!(args.liveness.reschedule_after, Duration::ZERO);
        let cli = parse(&[
            "server",
            "--node-timeout",
            "2s500ms",
            "--reschedule-after",
            "1m",
        ])
        .unwrap();
        let Command::Server(args) = cli.command else {
            panic!("not server")
        };
        assert_eq!(args.liveness.node_timeout, Duration::from_millis(2500));
        assert_eq!(args.liveness.reschedule_after, Duration::from_secs(60));
    }

    #[test]
    fn a_node_timeout_under_a_second_or_not_a_duration_is_refused() {
        assert!(
            parse(&["server", "--node-timeout", "500ms"])
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(
            parse(&["server", "--node-timeout", "0"])
                .unwrap_err()
                .contains("at least 1s")
        );
        assert!(
            parse(&["server", "--reschedule-after", "soon"])
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn node_verbs_parse_and_reject_bad_names() {
        match parse(&["node", "drain", "h2", "--wait"]).unwrap().command {
            Command::Node(NodeCmd::Drain(d)) => {
                assert_eq!(d.name, "h2");
                assert!(d.wait);
                assert_eq!(d.timeout, Duration::from_secs(300));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["node", "rm", "--force", "h2"]).unwrap().command {
            Command::Node(NodeCmd::Rm(r)) => assert!(r.force && r.name == "h2"),
            other => panic!("{other:?}"),
        }
        match parse(&["node", "activate", "h2"]).unwrap().command {
            Command::Node(NodeCmd::Activate(a)) => assert_eq!(a.name, "h2"),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["node", "drain", "Bad_Name"]).is_err());
        assert!(parse(&["node", "rm"]).is_err());
    }
}
