//! The arguments of `corral lb create|ls|rm`.

use clap::{Args, Subcommand};
use corral_types::PortRule;

use super::{ListArgs, RmArgs, parse_label, parse_name};

#[derive(Debug, Subcommand)]
pub enum LbCmd {
    /// Create a load balancer: a service whose instances are proxies run by
    /// the agents, listening on host ports.
    Create(LbCreateArgs),
    /// List load balancers.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove load balancers (other services are refused).
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct LbCreateArgs {
    /// Load balancer (service) name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// A port rule (repeatable):
    /// "SOURCE_PORT[/PROTOCOL] [HOST][/PATH] -> SERVICE[:PORT] [priority=N] [backend=NAME]",
    /// as in the io.corral.lb.rule labels of a compose file.
    #[arg(long = "rule", required = true, value_name = "RULE", value_parser = parse_rule)]
    pub rules: Vec<RuleArg>,
    /// A certificate offered by SNI on https and tls ports (repeatable).
    #[arg(long = "cert", value_name = "NAME", value_parser = parse_name)]
    pub certs: Vec<String>,
    /// The certificate for clients without SNI or a name no certificate
    /// covers [default: the first --cert].
    #[arg(long, value_name = "NAME", value_parser = parse_name)]
    pub default_cert: Option<String>,
    /// Sticky sessions: the cookie naming the backend.
    #[arg(long, value_name = "NAME")]
    pub sticky_cookie: Option<String>,
    /// Number of instances.
    #[arg(long, default_value_t = 1, conflicts_with = "global")]
    pub scale: u32,
    /// One instance on every eligible node.
    #[arg(long)]
    pub global: bool,
    /// Label on the service (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

/// A `--rule` as written and as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleArg {
    pub text: String,
    pub rule: PortRule,
}

fn parse_rule(s: &str) -> Result<RuleArg, String> {
    Ok(RuleArg {
        text: s.to_string(),
        rule: PortRule::parse(s)?,
    })
}

#[cfg(test)]
mod tests {
    use crate::args::{Cli, Command, LbCmd};
    use clap::Parser;
    use corral_types::LbProtocol;

    fn parse(args: &[&str]) -> Result<Cli, String> {
        let argv = ["corral", "lb"].into_iter().chain(args.iter().copied());
        Cli::try_parse_from(argv).map_err(|e| e.to_string())
    }

    #[test]
    fn rules_are_read_in_the_compose_label_form() {
        let cli = parse(&[
            "create",
            "edge",
            "--rule",
            "80 -> web:8080",
            "--rule",
            "443/https *.example.com/api -> shop/api:9000 priority=1",
            "--cert",
            "wild",
            "--global",
        ])
        .unwrap();
        let Command::Lb(LbCmd::Create(a)) = cli.command else {
            panic!("not lb create")
        };
        assert_eq!(a.rules.len(), 2);
        assert_eq!(a.rules[0].text, "80 -> web:8080");
        assert_eq!(a.rules[1].rule.protocol, LbProtocol::Https);
        assert_eq!(a.rules[1].rule.target_service, "shop/api");
        assert!(a.global && a.certs == ["wild"]);
    }

    #[test]
    fn a_bad_rule_is_refused_naming_the_flag_and_the_text() {
        let e = parse(&["create", "edge", "--rule", "80 web"]).unwrap_err();
        assert!(
            e.contains("--rule") && e.contains("80 web") && e.contains("->"),
            "{e}"
        );
        let e = parse(&["create", "edge", "--rule", "80/udp -> web"]).unwrap_err();
        assert!(e.contains("--rule") && e.contains("udp"), "{e}");
    }

    #[test]
    fn a_rule_is_required_and_scale_excludes_global() {
        assert!(parse(&["create", "edge"]).unwrap_err().contains("--rule"));
        let e = parse(&[
            "create",
            "edge",
            "--rule",
            "80 -> web",
            "--scale",
            "2",
            "--global",
        ])
        .unwrap_err();
        assert!(e.contains("--global") || e.contains("--scale"), "{e}");
    }
}
