//! Passwords: the first line of stdin (`--password-stdin`), or typed on
//! the terminal with echo off.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, bail};

/// The first line of `input`, without its line ending; `flag` names where
/// it came from in errors.
pub(crate) fn first_line(mut input: impl BufRead, flag: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .with_context(|| format!("cannot read {flag} from stdin"))?;
    let line = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    if line.is_empty() {
        bail!("{flag}: stdin held no password (give it on the first line)");
    }
    Ok(line.to_string())
}

/// The first line of stdin.
pub(crate) fn from_stdin(flag: &str) -> anyhow::Result<String> {
    first_line(std::io::stdin().lock(), flag)
}

/// Refuses to prompt when stdin is not a terminal: a script would hang on
/// a prompt it cannot see, or feed the wrong line.
fn require_terminal(flag: &str) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal, so no password can be typed: pipe it in with {flag}");
    }
    Ok(())
}

fn prompt(text: &str) -> anyhow::Result<String> {
    rpassword::prompt_password(text).context("cannot read the password from the terminal")
}

/// A password typed once (to log in).
pub(crate) fn ask(text: &str, flag: &str) -> anyhow::Result<String> {
    require_terminal(flag)?;
    let password = prompt(text)?;
    if password.is_empty() {
        bail!("no password was typed");
    }
    Ok(password)
}

/// A new password, typed twice.
pub(crate) fn ask_new(what: &str, flag: &str) -> anyhow::Result<String> {
    require_terminal(flag)?;
    let first = prompt(&format!("New password for {what}: "))?;
    if first.is_empty() {
        bail!("no password was typed");
    }
    let again = prompt("Again: ")?;
    if first != again {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

/// The password `--password-stdin` reads, or else one typed twice.
pub(crate) fn new_password(what: &str, from_stdin_flag: bool) -> anyhow::Result<String> {
    const FLAG: &str = "--password-stdin";
    if from_stdin_flag {
        from_stdin(FLAG)
    } else {
        ask_new(what, FLAG)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_a_prompt_is_refused_naming_the_flag() {
        // Where the tests run with a terminal on stdin (by hand) there is
        // nothing to check without typing.
        if std::io::stdin().is_terminal() {
            return;
        }
        for result in [
            new_password("bob", false),
            ask("Password: ", "--password-stdin"),
        ] {
            let e = result.unwrap_err().to_string();
            assert!(
                e.starts_with("stdin is not a terminal") && e.ends_with("--password-stdin"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_first_line_loses_its_line_ending_and_nothing_else() {
        let f = "--password-stdin";
        assert_eq!(first_line(&b"s3cret pw\n"[..], f).unwrap(), "s3cret pw");
        assert_eq!(first_line(&b"s3cret\r\nmore\n"[..], f).unwrap(), "s3cret");
        assert_eq!(first_line(&b"no-newline"[..], f).unwrap(), "no-newline");
        assert_eq!(first_line(&b" pad \n"[..], f).unwrap(), " pad ");
        for empty in [&b""[..], &b"\n"[..], &b"\r\n"[..]] {
            let e = first_line(empty, f).unwrap_err().to_string();
            assert!(
                e.starts_with("--password-stdin: stdin held no password"),
                "{e}"
            );
        }
    }
}
