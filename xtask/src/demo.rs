//! `cargo xtask demo`: from a fresh machine to a service answering on
//! http://127.0.0.1:8080/, run by `corral up` on the local Docker Engine,
//! and the web UI at `corral up`'s own address.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use corral_testing::{PrivateEngine, WHOAMI_IMAGE, workspace_root};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::corral_up::{CorralUp, UpOptions, build_release, wait_for};
use crate::docker::Docker;
use crate::system_engine::{Started, ensure_local_engine, stop_if_started};

const SERVICE: &str = "whoami";
const WAIT_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Host port to publish the demo service on.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Create the service, check it answers, then remove it, stop `corral up`
    /// (and the engine, if the demo started it) and exit.
    #[arg(long)]
    pub no_wait: bool,
    /// Address for the API of `corral up`.
    #[arg(long, default_value = "127.0.0.1:7480", value_name = "ADDR")]
    pub listen: String,
    /// Address for the embedded agent's endpoint.
    #[arg(long, default_value = "127.0.0.1:7481", value_name = "ADDR")]
    pub agent_listen: String,
}

pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    eprintln!("==> prerequisites");
    corral_testing::install_prerequisites()?;
    let (docker, started) = ensure_local_engine()?;
    eprintln!("==> engine {} answers", docker.host);
    eprintln!("==> image {WHOAMI_IMAGE}");
    let image_engine = PrivateEngine {
        docker_host: docker.host.clone(),
        // Only its lock file lives there.
        root: workspace_root().join("target/demo"),
    };
    corral_testing::ensure_whoami_image(&image_engine)?;
    // The built-in catalog's `sleeper` runs it.
    eprintln!("==> image {}", corral_testing::BUSYBOX_IMAGE);
    corral_testing::ensure_busybox_image(&image_engine)?;
    // The binary embeds ui/dist when it is there: build it first. Without
    // Node.js the demo goes on, and / says how to build the UI.
    eprintln!("==> web UI");
    if let Err(error) = crate::ui::install().and_then(|()| crate::ui::build()) {
        eprintln!("==> the web UI was not built ({error:#}); the demo goes on without it");
    }
    let binary = build_release()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    // From here on Ctrl-C does not kill xtask: it waits for `corral up`.
    let mut sigint = {
        let _guard = runtime.enter();
        signal(SignalKind::interrupt()).context("cannot handle SIGINT")?
    };
    eprintln!("==> corral up");
    let up = CorralUp::start(&UpOptions {
        binary,
        docker_host: docker.host.clone(),
        args: vec![
            "--listen".into(),
            args.listen.clone().into(),
            "--agent-listen".into(),
            args.agent_listen.clone().into(),
        ],
        config_home: None,
        data_home: None,
        echo: true,
    })?;
    show(&up, args.port)?;
    runtime.block_on(check_ui(&up))?;
    if args.no_wait {
        return clean_up(up, &docker, started);
    }
    println!(
        "Web UI: {}/ (user admin; the password is printed above on the first start, \
         and kept in the data directory's admin-password file)",
        up.url
    );
    println!(
        "Corral is running. Try: {} service ls | curl http://127.0.0.1:{}/ | Ctrl-C to stop (containers keep running)",
        display_binary(&up),
        args.port
    );
    println!(
        "The built-in catalog: {0} catalog ls | {0} app launch hello --name hello -a public_port=8081",
        display_binary(&up)
    );
    runtime.block_on(wait_for_child(up, &mut sigint))
}

/// Creates the demo service unless it exists, waits until it runs and
/// prints its answer.
fn show(up: &CorralUp, port: u16) -> anyhow::Result<()> {
    if up
        .cli(&["service", "inspect", SERVICE, "-o", "json"])
        .is_ok()
    {
        eprintln!("==> service {SERVICE} exists already: leaving it as it is");
    } else {
        let publish = format!("{port}:80");
        eprintln!("==> corral service create {SERVICE} --image {WHOAMI_IMAGE} -p {publish}");
        print!(
            "{}",
            up.cli(&[
                "service",
                "create",
                SERVICE,
                "--image",
                WHOAMI_IMAGE,
                "-p",
                &publish
            ])?
        );
    }
    eprintln!("==> waiting until {SERVICE} runs");
    wait_for(
        "the demo service to run",
        WAIT_TIMEOUT,
        Duration::from_millis(500),
        || {
            let rows = up.cli(&["service", "ps", SERVICE, "-o", "json"])?;
            let rows: serde_json::Value = serde_json::from_str(&rows)
                .context("cannot parse the output of corral service ps")?;
            let running = rows.as_array().is_some_and(|rows| {
                rows.iter()
                    .any(|r| r.get("state").and_then(|s| s.as_str()) == Some("running"))
            });
            Ok(running.then_some(()))
        },
    )?;
    print!("{}", up.cli(&["service", "ps", SERVICE])?);
    eprintln!("==> GET http://127.0.0.1:{port}/");
    let body = wait_for(
        "an answer on the published port",
        Duration::from_secs(30),
        Duration::from_millis(250),
        || http_get(port).map(Some),
    )?;
    println!("{}", body.trim_end());
    Ok(())
}

/// `GET /` of `corral up` (its CA pinned) answers the UI's page, or the
/// page saying how to build it.
async fn check_ui(up: &CorralUp) -> anyhow::Result<()> {
    let http = corral_api::Trust::pinned(&up.ca_pem)
        .http_client()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let url = format!("{}/", up.url);
    let resp = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let html = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !status.is_success() || !html {
        bail!("GET {url}: {status}, not the web UI's page");
    }
    eprintln!("==> GET {url}: the web UI answers");
    Ok(())
}

/// `GET /` on 127.0.0.1:`port`; the body of a 200 answer.
fn http_get(port: u16) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("cannot connect to 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: cargo-xtask-demo\r\n\r\n")?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .context("cannot read the answer")?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("not an HTTP answer")?;
    let status = head.lines().next().unwrap_or_default();
    if !status.contains(" 200 ") {
        bail!("answer: {status}");
    }
    Ok(body.to_owned())
}

/// `--no-wait`: removes the service, waits until its containers are gone,
/// stops `corral up` and the engine if the demo started it.
fn clean_up(up: CorralUp, docker: &Docker, started: Started) -> anyhow::Result<()> {
    eprintln!("==> corral service rm {SERVICE}");
    up.cli(&["service", "rm", SERVICE])?;
    let filter = format!("label=io.corral.service={SERVICE}");
    wait_for(
        "the demo containers to go",
        WAIT_TIMEOUT,
        Duration::from_millis(250),
        || Ok(docker.ids(&filter)?.is_empty().then_some(())),
    )?;
    eprintln!("==> stopping corral up");
    up.stop()?;
    stop_if_started(started)?;
    eprintln!("==> demo done, nothing left running");
    Ok(())
}

/// Waits for `corral up` to exit; on SIGINT (Ctrl-C) asks it to stop.
async fn wait_for_child(mut up: CorralUp, sigint: &mut Signal) -> anyhow::Result<()> {
    loop {
        tokio::select! {
            _ = sigint.recv() => {
                eprintln!("==> stopping corral up (its containers keep running)");
                return up.stop();
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if let Some(status) = up.try_wait()? {
                    if status.success() {
                        return Ok(());
                    }
                    bail!("corral up exited ({status})");
                }
            }
        }
    }
}

/// The binary path as the user would type it (relative to the workspace).
fn display_binary(up: &CorralUp) -> String {
    let root = workspace_root();
    up.binary
        .strip_prefix(&root)
        .unwrap_or(&up.binary)
        .display()
        .to_string()
}
