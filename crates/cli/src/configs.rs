//! `corral config create|update|ls|inspect|rm`. A config is no secret:
//! `inspect` shows its value (decoded when it is text) and `-o value`
//! prints its bytes as they are.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use corral_api::Client;
use corral_types::{Config, RawObject};

use crate::args::{ConfigCmd, ConfigFormat};
use crate::errors::{for_each, list_error, object_error};
use crate::output::{ObjectFormat, print, print_rows, render_object};
use crate::secret::{SecretRow, request};
use crate::typed::decode_all;

pub(crate) async fn run(client: &Client, env: &str, cmd: ConfigCmd) -> anyhow::Result<()> {
    match cmd {
        ConfigCmd::Create(args) => {
            let req = request(&args, true, "config")?;
            let created = client
                .create_config(env, &req)
                .await
                .map_err(|e| object_error(e, "create", "config", env, &args.name))?;
            print(&format!("{}\n", created.meta.name))
        }
        ConfigCmd::Update(args) => {
            let req = request(&args, false, "config")?;
            let updated = client
                .update_config(env, &args.name, &req)
                .await
                .map_err(|e| object_error(e, "update", "config", env, &args.name))?;
            let config: Vec<Config> = decode_all(vec![updated], "config")?;
            let version = config.first().map(|c| c.status.version).unwrap_or_default();
            print(&format!("{} version {version}\n", args.name))
        }
        ConfigCmd::Ls(args) => {
            let list = client
                .configs(env)
                .await
                .map_err(|e| list_error(e, "configs", env))?;
            let configs: Vec<Config> = decode_all(list.items, "config")?;
            print_rows(&config_rows(&configs), args.output)
        }
        ConfigCmd::Inspect(args) => {
            let raw = client
                .config(env, &args.name)
                .await
                .map_err(|e| object_error(e, "inspect", "config", env, &args.name))?;
            match args.output {
                ConfigFormat::Value => print_bytes(&value_of(&raw)?),
                ConfigFormat::Yaml => print(&render_object(&readable(raw), ObjectFormat::Yaml)?),
                ConfigFormat::Json => print(&render_object(&readable(raw), ObjectFormat::Json)?),
            }
        }
        ConfigCmd::Rm(args) => {
            for_each(&args.names, "remove config", |name| async move {
                client.remove_config(env, &name).await.map(drop)
            })
            .await
        }
    }
}

/// The value of a config as the server answered it (`spec.data`, base64).
fn value_of(raw: &RawObject) -> anyhow::Result<Vec<u8>> {
    let data = raw.spec["data"].as_str().unwrap_or_default();
    B64.decode(data)
        .map_err(|e| anyhow::anyhow!("config {:?}: spec.data is not base64: {e}", raw.meta.name))
}

/// The object with `spec.value`, the value as text, beside `spec.data`
/// when it is UTF-8 (a configuration file usually is).
fn readable(mut raw: RawObject) -> RawObject {
    let text = value_of(&raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    if let (Some(text), Some(spec)) = (text, raw.spec.as_object_mut()) {
        spec.insert("value".into(), serde_json::Value::String(text));
    }
    raw
}

fn print_bytes(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::from(e).context("cannot write to stdout"))
        }
        _ => Ok(()),
    }
}

/// `config ls` shows what `secret ls` shows.
fn config_rows(configs: &[Config]) -> Vec<SecretRow> {
    let mut rows: Vec<SecretRow> = configs
        .iter()
        .map(|c| SecretRow {
            name: c.meta.name.clone(),
            version: c.status.version,
            size: c.status.size,
            digest: c.status.digest.clone(),
            updated: c.status.updated.clone(),
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use clap::Parser;
    use corral_types::{ConfigSpec, Kind, Object};

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied()))
    }

    #[test]
    fn config_verbs_parse_and_take_a_value_from_exactly_one_place() {
        let Command::Config(ConfigCmd::Create(a)) =
            parse(&["config", "create", "app.conf", "--from-literal", "x=1"])
                .unwrap()
                .command
        else {
            panic!("not config create");
        };
        assert_eq!(
            B64.decode(request(&a, true, "config").unwrap().value)
                .unwrap(),
            b"x=1"
        );
        let Command::Config(ConfigCmd::Update(a)) =
            parse(&["config", "update", "app.conf"]).unwrap().command
        else {
            panic!("not config update");
        };
        let err = request(&a, false, "config").unwrap_err().to_string();
        assert!(err.contains("config \"app.conf\""), "{err}");
        assert!(parse(&["config", "create", "a/b", "--from-literal", "v"]).is_err());
        let Command::Config(ConfigCmd::Inspect(a)) =
            parse(&["config", "inspect", "app.conf", "--format", "value"])
                .unwrap()
                .command
        else {
            panic!("not config inspect");
        };
        assert_eq!(a.output, ConfigFormat::Value);
    }

    #[test]
    fn inspect_shows_a_text_value_as_text_and_value_prints_the_bytes() {
        let config: Config = Object::new(
            Kind::Config,
            "default",
            "app.conf",
            ConfigSpec {
                data: B64.encode("listen 80;\n"),
            },
        );
        let raw = config.to_raw().unwrap();
        assert_eq!(value_of(&raw).unwrap(), b"listen 80;\n");
        let shown = render_object(&readable(raw), ObjectFormat::Yaml).unwrap();
        assert!(shown.contains("listen 80;"), "{shown}");
        let binary: Config = Object::new(
            Kind::Config,
            "default",
            "blob",
            ConfigSpec {
                data: B64.encode([0xff, 0xfe]),
            },
        );
        let shown = readable(binary.to_raw().unwrap());
        assert!(
            shown.spec.get("value").is_none(),
            "binary stays base64 only"
        );
    }
}
