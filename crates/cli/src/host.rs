//! `corral host add-command`: a registration token, and the line that
//! joins a new host with it.

use corral_api::{Client, SecretCreated};

use crate::args::{AddCommandArgs, HostCmd};
use crate::errors::request_error;
use crate::output::print;

pub(crate) async fn run(client: &Client, env: &str, cmd: HostCmd) -> anyhow::Result<()> {
    match cmd {
        HostCmd::AddCommand(args) => add_command(client, env, &args).await,
    }
}

async fn add_command(client: &Client, env: &str, args: &AddCommandArgs) -> anyhow::Result<()> {
    let created = client
        .create_registration_token(env, Some(args.ttl_s))
        .await
        .map_err(|e| {
            request_error(
                e,
                &format!("make a registration token for environment {env:?}"),
            )
        })?;
    // The CA this client pins is the one the new host must pin too.
    let fingerprint = match client.trust().ca_pem.as_deref() {
        Some(ca) => Some(corral_pki::fingerprint_of_pem(ca)?),
        None => None,
    };
    print(&add_command_text(
        client.base_url(),
        fingerprint.as_deref(),
        env,
        &created,
    ))
}

/// The command to run on the new host, then which environment it joins
/// and until when (the token names its environment: the agent needs no `-E`).
pub(crate) fn add_command_text(
    url: &str,
    ca_fingerprint: Option<&str>,
    env: &str,
    created: &SecretCreated,
) -> String {
    let pin = ca_fingerprint
        .map(|f| format!(" --ca-fingerprint {f}"))
        .unwrap_or_default();
    let expires = if created.expires.is_empty() {
        String::new()
    } else {
        format!(" until {}", created.expires)
    };
    format!(
        "corral agent --server {url}{pin} --registration-token {token}\n\
         # the token adds hosts to environment {env:?}{expires} (corral token rm {id} -E {env} revokes it)\n",
        token = created.token,
        id = created.id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<AddCommandArgs, String> {
        let argv = ["corral", "host", "add-command"]
            .into_iter()
            .chain(args.iter().copied());
        match Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Host(HostCmd::AddCommand(a)) => Ok(a),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn ttl_defaults_to_a_day_and_takes_minutes_hours_and_days() {
        assert_eq!(parse(&[]).unwrap().ttl_s, 86_400);
        assert_eq!(parse(&["--ttl", "30m"]).unwrap().ttl_s, 1800);
        assert_eq!(parse(&["--ttl", "7d"]).unwrap().ttl_s, 7 * 86_400);
        let cli = Cli::try_parse_from(["corral", "host", "add-command", "-E", "prod"]).unwrap();
        assert_eq!(cli.environment, "prod");
    }

    #[test]
    fn a_zero_or_too_long_or_bad_ttl_is_refused_naming_the_flag() {
        for (bad, why) in [
            ("0", "above 0"),
            ("31d", "30d"),
            ("1w", "not a duration"),
            ("10", "not a duration"),
        ] {
            let e = parse(&["--ttl", bad]).unwrap_err();
            assert!(e.contains("--ttl") && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn the_command_names_server_token_and_environment() {
        let created = SecretCreated {
            id: "ab12".into(),
            token: "crl_r_ab12_s3cret".into(),
            expires: "2026-05-02T10:00:00Z".into(),
        };
        let fp = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let text = add_command_text("https://10.0.0.1:7480", Some(fp), "prod", &created);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "corral agent --server https://10.0.0.1:7480 --ca-fingerprint sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad --registration-token crl_r_ab12_s3cret"
        );
        assert!(
            lines[1].contains("environment \"prod\" until 2026-05-02T10:00:00Z")
                && lines[1].contains("corral token rm ab12 -E prod"),
            "{}",
            lines[1]
        );
        assert_eq!(lines.len(), 2);
        // The printed line parses as the agent's own command line.
        let argv: Vec<&str> = lines[0].split_whitespace().collect();
        let cli = Cli::try_parse_from(argv).unwrap();
        let Command::Agent(agent) = cli.command else {
            panic!("not agent")
        };
        assert_eq!(agent.server, "https://10.0.0.1:7480");
        assert_eq!(agent.ca_fingerprint.as_deref(), Some(fp));
        assert_eq!(
            agent.registration_token.as_deref(),
            Some("crl_r_ab12_s3cret")
        );
    }
}
