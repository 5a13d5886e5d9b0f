//! `corral login URL --username NAME` and `corral logout`.

use corral_api::Client;

use crate::args::LoginArgs;
use crate::config::{self, ClientConfig};
use crate::errors::request_error;
use crate::output::print;
use crate::password;

pub(crate) async fn login(args: &LoginArgs) -> anyhow::Result<()> {
    // The server is trusted before a password is typed for it.
    let (ca_pem, ca_fingerprint) = trusted_ca(args).await?;
    let password = if args.password_stdin {
        password::from_stdin("--password-stdin")?
    } else {
        password::ask(
            &format!("Password for {} at {}: ", args.username, args.url),
            "--password-stdin",
        )?
    };
    let trust = if ca_pem.is_empty() {
        corral_api::Trust::default()
    } else {
        corral_api::Trust::pinned(&ca_pem)
    };
    let session = Client::with_trust(&args.url, "", trust)?
        .login(&args.username, &password)
        .await
        .map_err(|e| match e.status() {
            // A wrong password is a 401 that no token can fix.
            Some(401) => anyhow::anyhow!("cannot log in to {} as {}: {e}", args.url, args.username),
            _ => request_error(e, &format!("log in to {} as {}", args.url, args.username)),
        })?;
    let path = config::save(&ClientConfig {
        url: args.url.clone(),
        token: session.token,
        ca_pem,
        ca_fingerprint,
    })?;
    let mut text = format!(
        "logged in to {} as {} (session expires {})\n",
        args.url, session.user, session.expires
    );
    if config::token_from_env() {
        text.push_str(&format!(
            "{} is set and wins over the session saved in {}: unset it\n",
            config::TOKEN_VAR,
            path.display()
        ));
    }
    print(&text)
}

/// The CA to pin for `args.url` (PEM and fingerprint; empty for plain
/// HTTP): the one already pinned for that URL, else the one the server
/// presents, if it has the fingerprint of `--ca-fingerprint` or the person
/// at the terminal accepts it after comparing, as ssh asks for host keys.
async fn trusted_ca(args: &LoginArgs) -> anyhow::Result<(String, String)> {
    if !args.url.starts_with("https://") {
        return Ok(Default::default());
    }
    let expected = args
        .ca_fingerprint
        .as_deref()
        .map(corral_pki::normalize_fingerprint)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--ca-fingerprint: {e}"))?;
    if let Some(saved) = config::load_saved()?
        && saved.url == args.url
        && !saved.ca_pem.is_empty()
        && expected.as_ref().is_none_or(|e| *e == saved.ca_fingerprint)
    {
        return Ok((saved.ca_pem, saved.ca_fingerprint));
    }
    let presented = corral_pki::first_contact::fetch_ca(&args.url, expected.as_deref()).await?;
    if expected.is_none() {
        use std::io::IsTerminal;
        let question = format!(
            "The server at {} presents a CA with fingerprint\n  {}\nCompare it with the one `corral host add-command` or the server's start prints.\nTrust it? [y/N] ",
            args.url, presented.fingerprint
        );
        if args.password_stdin || !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "the server at {} presents a CA with fingerprint {}: check it and pass it with --ca-fingerprint",
                args.url,
                presented.fingerprint
            );
        }
        eprint!("{question}");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            anyhow::bail!("not logged in: the CA was not trusted");
        }
    }
    Ok((presented.ca_pem, presented.fingerprint))
}

pub(crate) async fn logout(client: &Client, cfg: &ClientConfig) -> anyhow::Result<()> {
    let ended = match client.logout().await {
        Ok(_) => true,
        // The session expired or was revoked: only the local copy is left.
        Err(e) if e.status() == Some(401) => false,
        Err(e) => return Err(request_error(e, &format!("log out of {}", cfg.url))),
    };
    let forgotten = config::forget_token(&cfg.token)?;
    print(&logout_text(&cfg.url, ended, forgotten.as_deref()))
}

/// What `logout` says: whether the server ended the session, and whether
/// the saved config held its token.
pub(crate) fn logout_text(url: &str, ended: bool, forgotten: Option<&std::path::Path>) -> String {
    let mut text = if ended {
        format!("logged out of {url}")
    } else {
        format!("the server at {url} had already ended this session")
    };
    match forgotten {
        Some(path) => text.push_str(&format!("; removed its token from {}\n", path.display())),
        None => text.push_str(&format!(
            "; the token came from {}: unset it\n",
            config::TOKEN_VAR
        )),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<Command, String> {
        let argv = ["corral"].into_iter().chain(args.iter().copied());
        Cli::try_parse_from(argv)
            .map(|c| c.command)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn login_takes_a_url_and_a_username() {
        match parse(&[
            "login",
            "http://h:7480/",
            "--username",
            "alice",
            "--password-stdin",
        ]) {
            Ok(Command::Login(l)) => {
                assert_eq!(l.url, "http://h:7480");
                assert_eq!(l.username, "alice");
                assert!(l.password_stdin);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["login", "https://corral.example", "-u", "Alice.Smith"]) {
            Ok(Command::Login(l)) => assert!(!l.password_stdin && l.username == "Alice.Smith"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(&["logout"]), Ok(Command::Logout)));
    }

    #[test]
    fn login_rejects_a_missing_username_or_a_bad_url() {
        let e = parse(&["login", "http://h:7480"]).unwrap_err();
        assert!(e.contains("--username"), "{e}");
        let e = parse(&["login", "h:7480", "--username", "a"]).unwrap_err();
        assert!(e.contains("http://"), "{e}");
        let e = parse(&["login", "http://", "--username", "a"]).unwrap_err();
        assert!(e.contains("no host"), "{e}");
        assert!(parse(&["login", "--username", "a"]).is_err());
        assert!(parse(&["login", "http://h", "--username", "a b"]).is_err());
        assert!(parse(&["logout", "extra"]).is_err());
    }

    #[test]
    fn logout_says_what_happened_to_the_session_and_the_token() {
        let path = Path::new("/home/u/.config/corral/config.json");
        assert_eq!(
            logout_text("http://h", true, Some(path)),
            "logged out of http://h; removed its token from /home/u/.config/corral/config.json\n"
        );
        let text = logout_text("http://h", false, Some(path));
        assert!(text.starts_with("the server at http://h had already ended this session; removed"));
        assert!(logout_text("http://h", true, None).contains("CORRAL_TOKEN: unset it"));
    }
}
