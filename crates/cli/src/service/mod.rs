//! `corral service ...`: one file per verb.

mod create;
mod history;
mod inspect;
mod ls;
pub(crate) mod ps;
mod rm;
mod rollback;
mod scale;
mod upgrade;

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
        ServiceCmd::Upgrade(args) => upgrade::run(client, env, &args).await,
        ServiceCmd::Rollback(args) => rollback::run(client, env, &args).await,
        ServiceCmd::History(args) => history::run(client, env, &args).await,
    }
}

/// Reads one service, with a clear message when it does not exist.
pub(crate) async fn get(
    client: &Client,
    env: &str,
    name: &str,
) -> anyhow::Result<corral_types::Service> {
    client
        .get(env, corral_types::Kind::Service, name)
        .await
        .map_err(|e| crate::errors::object_error(e, "get", "service", env, name))
}
