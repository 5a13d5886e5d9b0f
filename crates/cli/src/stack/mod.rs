//! `corral stack ...`: one file per verb.

mod deploy;
mod export;
mod file_values;
mod ls;
mod plan;
pub(crate) use plan::render_plan;
mod ps;

use corral_api::Client;
use corral_types::{Kind, Stack};

use crate::args::{InspectArgs, RmArgs, StackCmd};
use crate::errors::object_error;
use crate::output::{print, render_object};

pub(crate) async fn run(client: &Client, env: &str, cmd: StackCmd) -> anyhow::Result<()> {
    match cmd {
        StackCmd::Deploy(args) => deploy::run(client, env, &args).await,
        StackCmd::Ls(args) => ls::run(client, env, &args).await,
        StackCmd::Ps(args) => ps::run(client, env, &args).await,
        StackCmd::Inspect(args) => inspect(client, env, &args).await,
        StackCmd::Export(args) => export::run(client, env, &args).await,
        StackCmd::Rm(args) => rm(client, env, &args).await,
    }
}

/// Reads one stack, with a clear message when it does not exist.
async fn get(client: &Client, env: &str, name: &str) -> anyhow::Result<Stack> {
    client
        .get(env, Kind::Stack, name)
        .await
        .map_err(|e| object_error(e, "get", "stack", env, name))
}

/// `corral stack inspect NAME [-o yaml|json]`: the whole stack object.
async fn inspect(client: &Client, env: &str, args: &InspectArgs) -> anyhow::Result<()> {
    let stack = get(client, env, &args.name).await?;
    print(&render_object(&stack, args.output)?)
}

/// `corral stack rm NAME...`: removes every stack named, printing each one
/// removed; a failure does not stop the others, and the failures are
/// reported together at the end.
async fn rm(client: &Client, env: &str, args: &RmArgs) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for name in &args.names {
        match client.delete(env, Kind::Stack, name).await {
            Ok(()) => print(&format!("{name}\n"))?,
            Err(e) => failures.push(object_error(e, "remove", "stack", env, name).to_string()),
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(anyhow::anyhow!("{}", failures.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use crate::output::{ObjectFormat, render_object};
    use corral_types::{Kind, Object, SourceFile, Stack, StackSpec};

    #[test]
    fn inspect_shows_files_and_variables() {
        let spec = StackSpec {
            files: vec![SourceFile {
                name: "docker-compose.yml".into(),
                content: "services: {}\n".into(),
            }],
            variables: [("TAG".to_string(), "1".to_string())].into(),
            app: None,
        };
        let s: Stack = Object::new(Kind::Stack, "default", "app", spec);
        let yaml = render_object(&s, ObjectFormat::Yaml).unwrap();
        for key in ["kind: Stack", "name: app", "docker-compose.yml", "TAG:"] {
            assert!(yaml.contains(key), "{key} missing from {yaml}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&render_object(&s, ObjectFormat::Json).unwrap()).unwrap();
        assert_eq!(json["spec"]["variables"]["TAG"], "1");
    }
}
