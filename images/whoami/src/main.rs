//! `corral-whoami`: a tiny HTTP server for tests and demos.
//!
//! `GET /` echoes who answered (host name, local addresses) and the request;
//! `/json` the same as JSON; `/health` says `ok`; `/exit?code=N` exits with N
//! after answering; `/sleep?ms=N` answers after N ms (at most 10000).
//!
//! std only, no dependencies: it is linked statically and shipped `FROM
//! scratch`. One thread per connection, at most [`MAX_CONNECTIONS`] at once.
//!
//! SIGTERM: installing a signal handler needs `unsafe` (or a crate such as
//! libc or signal-hook), which this crate does without. Outside a container,
//! or under `docker run --init`, SIGTERM's default action ends the process at
//! once. As PID 1 of a container, the kernel drops signals PID 1 has no
//! handler for, so SIGTERM is ignored and the engine kills the process with
//! SIGKILL when the stop grace period ends (`docker stop -t` shortens it).

mod http;
mod info;
mod json;
mod serve;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

/// Connections served at once; more are closed as soon as accepted.
const MAX_CONNECTIONS: usize = 256;
const DEFAULT_LISTEN: &str = "0.0.0.0:80";
const USAGE: &str = "usage: corral-whoami [--listen ADDR | --port N]
  --listen ADDR  address to listen on (env WHOAMI_LISTEN, default 0.0.0.0:80)
  --port N       listen on 0.0.0.0:N";

fn main() -> ExitCode {
    let args = parse_args(
        std::env::args().skip(1),
        std::env::var("WHOAMI_LISTEN").ok(),
    );
    let listen = match args {
        Ok(Command::Serve(listen)) => listen,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("whoami: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("whoami: listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shown = listener
        .local_addr()
        .map_or_else(|_| listen.clone(), |a: SocketAddr| a.to_string());
    log_line(&format!("whoami listening on {shown}"));
    accept_loop(&listener);
    ExitCode::SUCCESS
}

fn accept_loop(listener: &TcpListener) {
    let ctx = Arc::new(serve::Context {
        hostname: info::hostname(),
    });
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(e) => {
                // Such as too many open files: wait a little rather than spin.
                eprintln!("whoami: accept: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Some(slot) = Slot::take(&active) else {
            drop(stream);
            continue;
        };
        let ctx = Arc::clone(&ctx);
        let spawned = thread::Builder::new()
            .name("whoami-conn".to_string())
            .spawn(move || {
                let _slot = slot;
                serve::connection(stream, &ctx);
            });
        // On failure the closure, its stream and its slot are dropped: closed and freed.
        if let Err(e) = spawned {
            eprintln!("whoami: spawn connection thread: {e}");
        }
    }
}

/// One of the [`MAX_CONNECTIONS`] places; given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(active: &Arc<AtomicUsize>) -> Option<Slot> {
        if active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(Arc::clone(active)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Prints one line to stdout and flushes it, so container logs show it at once.
pub fn log_line(line: &str) {
    let mut out = std::io::stdout().lock();
    // Nobody to tell when stdout is gone; serving goes on.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Serve(String),
    Help,
}

/// `--listen ADDR`, `--port N` (or `--listen=ADDR`, `--port=N`), `--help`;
/// else `env` (WHOAMI_LISTEN), else 0.0.0.0:80.
fn parse_args(args: impl Iterator<Item = String>, env: Option<String>) -> Result<Command, String> {
    let mut args = args.peekable();
    let (mut listen, mut port) = (None, None);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--listen" => listen = Some(value()?),
            "--port" => {
                let v = value()?;
                let n: u16 = v
                    .parse()
                    .map_err(|_| format!("--port {v:?} is not a port number"))?;
                port = Some(n);
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    match (listen, port) {
        (Some(_), Some(_)) => Err("use either --listen or --port".to_string()),
        (Some(listen), None) => Ok(Command::Serve(listen)),
        (None, Some(port)) => Ok(Command::Serve(format!("0.0.0.0:{port}"))),
        (None, None) => Ok(Command::Serve(
            env.filter(|e| !e.is_empty())
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str], env: Option<&str>) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()), env.map(str::to_string))
    }

    #[test]
    fn listen_address_comes_from_flags_then_env_then_default() {
        let serve = |s: &str| Ok(Command::Serve(s.to_string()));
        assert_eq!(parse(&[], None), serve("0.0.0.0:80"));
        assert_eq!(parse(&[], Some("127.0.0.1:9")), serve("127.0.0.1:9"));
        assert_eq!(parse(&["--listen", "[::1]:8"], Some("x")), serve("[::1]:8"));
        assert_eq!(parse(&["--listen=127.0.0.1:7"], None), serve("127.0.0.1:7"));
        assert_eq!(parse(&["--port", "8080"], None), serve("0.0.0.0:8080"));
        assert_eq!(parse(&["--help"], None), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(parse(&["--port", "99999"], None).is_err());
        assert!(parse(&["--port"], None).is_err());
        assert!(parse(&["--listen", "a:1", "--port", "2"], None).is_err());
        assert!(parse(&["--verbose"], None).is_err());
    }
}
