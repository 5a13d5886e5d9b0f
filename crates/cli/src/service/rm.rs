//! `corral service rm NAME...`.

use corral_api::Client;
use corral_types::Kind;

use crate::args::RmArgs;
use crate::errors::object_error;
use crate::output::print;

/// Removes every service named, printing each one removed; a failure does
/// not stop the others, and the failures are reported together at the end.
pub(super) async fn run(client: &Client, env: &str, args: &RmArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.names {
        match client.delete(env, Kind::Service, name).await {
            Ok(()) => print(&format!("{name}\n"))?,
            Err(e) => failures.push(object_error(e, "remove", "service", env, name).to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    }
}
