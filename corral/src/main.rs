//! The one `corral` binary: a thin main that parses the command line and
//! hands each verb to its crate.

mod processes;

use std::process::ExitCode;

use corral_cli::{Cli, Command};

/// jemalloc instead of glibc's malloc: at 5,000 nodes glibc's allocator
/// took a fifth of the server's CPU (consolidating and splitting chunks
/// across its per-thread arenas). mimalloc was faster still but held
/// twice the memory; see docs/BENCHMARKS.md, issue 16, second round.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse_args() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let runs_a_process = matches!(
        cli.command,
        Command::Server(_) | Command::Agent(_) | Command::Up(_)
    );
    init_logging(runs_a_process);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Server(args) => processes::server(args).await,
            Command::Agent(args) => processes::agent(args, cli.environment).await,
            Command::Up(args) => processes::up(args).await,
            _ => corral_cli::run_client(cli).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `corral exec`: the command's own exit code, and nothing printed.
            if let Some(exit) = e.downcast_ref::<corral_cli::CommandExit>() {
                return ExitCode::from(exit.0);
            }
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// Help and version go to stdout with 0; a usage error is one line on stderr and 1.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = e.render().to_string();
    let first_paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let msg = first_paragraph.join(" ");
    let msg = msg.strip_prefix("error: ").unwrap_or(&msg);
    eprintln!("error: {msg}");
    ExitCode::FAILURE
}

fn init_logging(verbose: bool) {
    let default = if verbose { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
