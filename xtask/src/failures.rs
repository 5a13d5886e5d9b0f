//! Running a test command so that its failures are named again at the end
//! of `cargo xtask test`: CI keeps only the tail of the output, and a
//! summary that says "ui browser test FAILED" without the test's name sends
//! the reader back to a log they may not have.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;

use anyhow::{Context, bail};

/// How many failure lines an error keeps (the rest are counted).
const KEPT: usize = 40;

/// Which lines of a test runner's output name a failure.
#[derive(Debug, Clone, Copy)]
pub enum Runner {
    /// `cargo test`: `test NAME ... FAILED`, panics, and the binary that failed.
    Cargo,
    /// vitest: `FAIL file > test`, `×` lines, and the assertion errors.
    Vitest,
}

impl Runner {
    pub fn names_failure(self, line: &str) -> bool {
        let line = line.trim();
        match self {
            Runner::Cargo => {
                line.ends_with("... FAILED")
                    || line.contains("panicked at")
                    || line.starts_with("error: test failed")
            }
            Runner::Vitest => {
                line.starts_with("FAIL ")
                    || line.starts_with("× ")
                    || line.starts_with("AssertionError")
                    || line.starts_with("Error:")
                    || line.starts_with("TimeoutError")
            }
        }
    }
}

/// Runs `command`, copying its output through as it comes, and on failure
/// returns an error that repeats the lines naming the failures.
pub fn run(command: &mut Command, what: &str, runner: Runner) -> anyhow::Result<()> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {what}"))?;
    let found = Arc::new(Mutex::new(Vec::new()));
    let mut copies = Vec::new();
    if let Some(out) = child.stdout.take() {
        copies.push(copy(out, false, runner, found.clone()));
    }
    if let Some(err) = child.stderr.take() {
        copies.push(copy(err, true, runner, found.clone()));
    }
    let status = child
        .wait()
        .with_context(|| format!("waiting for {what}"))?;
    for handle in copies {
        // A copying thread that panicked lost only its echo, not the status.
        let _ = handle.join();
    }
    if status.success() {
        return Ok(());
    }
    let lines = found.lock().map(|l| l.clone()).unwrap_or_default();
    bail!("{what} failed ({status}){}", describe(&lines))
}

fn describe(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut text = String::from(":");
    for line in lines.iter().take(KEPT) {
        text.push_str("\n      ");
        text.push_str(line.trim());
    }
    if lines.len() > KEPT {
        text.push_str(&format!("\n      ... and {} more", lines.len() - KEPT));
    }
    text
}

fn copy(
    from: impl Read + Send + 'static,
    to_stderr: bool,
    runner: Runner,
    found: Arc<Mutex<Vec<String>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(from);
        let mut raw = Vec::new();
        loop {
            raw.clear();
            match reader.read_until(b'\n', &mut raw) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            if to_stderr {
                let _ = std::io::stderr().write_all(&raw);
            } else {
                let _ = std::io::stdout().write_all(&raw);
            }
            let line = strip_ansi(&String::from_utf8_lossy(&raw));
            if runner.names_failure(&line)
                && let Ok(mut lines) = found.lock()
            {
                lines.push(line.trim_end().to_string());
            }
        }
    })
}

/// The text of a line without terminal colour codes (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_lines_of_each_runner_are_recognised() {
        assert!(Runner::Cargo.names_failure("test stacks::an_upgrade ... FAILED"));
        assert!(Runner::Cargo.names_failure("thread 'x' panicked at corral/tests/stacks.rs:10:5:"));
        assert!(!Runner::Cargo.names_failure("test stacks::an_upgrade ... ok"));
        assert!(Runner::Vitest.names_failure(" FAIL  e2e/catalog.e2e.ts > finds a template"));
        assert!(Runner::Vitest.names_failure("   × finds a template 30012ms"));
        assert!(!Runner::Vitest.names_failure(" ✓ e2e/admin.e2e.ts (3 tests) 20s"));
    }

    #[test]
    fn colour_codes_are_stripped_before_matching() {
        let line = "\u{1b}[31m FAIL \u{1b}[39m e2e/catalog.e2e.ts";
        assert_eq!(strip_ansi(line), " FAIL  e2e/catalog.e2e.ts");
        assert!(Runner::Vitest.names_failure(&strip_ansi(line)));
    }

    #[test]
    fn a_failure_names_at_most_the_kept_lines() {
        let lines: Vec<String> = (0..50).map(|i| format!("test t{i} ... FAILED")).collect();
        let text = describe(&lines);
        assert!(text.contains("t39 ... FAILED"));
        assert!(!text.contains("t40 ... FAILED"));
        assert!(text.ends_with("... and 10 more"));
    }
}
