//! `corral service scale NAME N`.

use corral_api::Client;

use crate::args::ScaleArgs;
use crate::errors::object_error;
use crate::output::print;

pub(super) async fn run(client: &Client, env: &str, args: &ScaleArgs) -> anyhow::Result<()> {
    client
        .scale_service(env, &args.name, args.scale)
        .await
        .map_err(|e| object_error(e, "scale", "service", env, &args.name))?;
    print(&format!("{} scaled to {}\n", args.name, args.scale))
}
