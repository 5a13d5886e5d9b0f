//! `corral service ...`: one file per verb.

mod create;
mod inspect;
mod ls;
mod ps;
mod rm;
mod scale;

use corral_api::Client;

use crate::args::ServiceCmd;

pub(crate) async fn run(client: &Client, env: &str, cmd: ServiceCmd) -> anyhow::Result<()> {
    match cmd {
        ServiceCmd::Create(args) => create::run(client, env, &args).await,
        ServiceCmd::Ls(args) => ls::run(client, env, &args).await,
        ServiceCmd::Inspect(args) => inspect::run(client, env, &args).await,
        ServiceCmd::Ps(args) => ps::run(client, env, &args).await,
        ServiceCmd::Scale(args) => scale::run(client, env, &args).await,
        ServiceCmd::Rm(args) => rm::run(client, env, &args).await,
    }
}

/// Reads one service, with a clear message when it does not exist.
async fn get(client: &Client, env: &str, name: &str) -> anyhow::Result<corral_types::Service> {
    client
        .get(env, corral_types::Kind::Service, name)
        .await
        .map_err(|e| crate::errors::object_error(e, "get", "service", env, name))
}
