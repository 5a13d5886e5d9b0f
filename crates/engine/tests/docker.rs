//! `DockerEngine` against the project's private engine (see corral-testing):
//! real containers from the locally built `corral-busybox` image.

// Helpers outside `#[test]` functions panic too: this whole file is a test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use corral_engine::{
    ContainerConfig, ContainerEngine, ContainerEvent, ContainerState, DockerEngine, EngineError,
    LogOptions, PortBinding, PortProtocol,
};
use corral_testing::{BUSYBOX_IMAGE, PrivateEngine};
use futures::StreamExt;
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The private engine with the busybox image, and a client for it.
async fn engine() -> (PrivateEngine, DockerEngine) {
    let bed = tokio::task::spawn_blocking(|| {
        let bed = corral_testing::test_engine()?;
        corral_testing::ensure_busybox_image(&bed)?;
        anyhow::Ok(bed)
    })
    .await
    .unwrap()
    .expect("the private engine (run `cargo xtask setup` as root if dockerd is missing)");
    let docker = DockerEngine::connect(Some(&bed.docker_host)).await.unwrap();
    (bed, docker)
}

/// Removes the named containers when dropped, even if the test panicked.
struct Cleanup {
    bed: PrivateEngine,
    names: Vec<String>,
}

impl Cleanup {
    fn new(bed: &PrivateEngine, names: &[&str]) -> Self {
        let cleanup = Self {
            bed: bed.clone(),
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        cleanup.remove_all();
        cleanup
    }

    fn remove_all(&self) {
        let _ = self
            .bed
            .docker()
            .args(["rm", "-f", "-v"])
            .args(&self.names)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.remove_all();
    }
}

/// A unique container name for this test process.
fn name(test: &str) -> String {
    format!("corral-engine-test-{test}-{}", std::process::id())
}

fn busybox(name: &str, command: &[&str]) -> ContainerConfig {
    ContainerConfig {
        name: name.to_owned(),
        image: BUSYBOX_IMAGE.to_owned(),
        command: command.iter().map(|s| s.to_string()).collect(),
        labels: BTreeMap::from([("corral.test.engine".to_owned(), name.to_owned())]),
        ..Default::default()
    }
}

/// Forwards the engine's events to a channel from a task of its own, and
/// returns once the subscription is proven live (a probe's `create` came through).
async fn subscribe(docker: &DockerEngine, probe: &str) -> mpsc::UnboundedReceiver<ContainerEvent> {
    let (sender, mut receiver) = mpsc::unbounded_channel();
    let mut events = docker.events();
    tokio::spawn(async move {
        while let Some(Ok(event)) = events.next().await {
            if sender.send(event).is_err() {
                break;
            }
        }
    });
    for _ in 0..20 {
        docker.remove(probe).await.unwrap();
        docker.create(&busybox(probe, &["true"])).await.unwrap();
        let seen = tokio::time::timeout(Duration::from_millis(500), async {
            while let Some(event) = receiver.recv().await {
                if event.action == "create"
                    && event.labels.get("name").map(String::as_str) == Some(probe)
                {
                    return true;
                }
            }
            false
        })
        .await;
        if seen == Ok(true) {
            docker.remove(probe).await.unwrap();
            return receiver;
        }
    }
    panic!("the event subscription never came through");
}

#[tokio::test]
async fn info_reports_the_host() {
    let (_bed, docker) = engine().await;
    let info = docker.info().await.unwrap();
    assert!(info.cpu_millis >= 1000, "{info:?}");
    assert!(info.memory_bytes > 0, "{info:?}");
    assert!(!info.version.is_empty(), "{info:?}");
    assert!(!info.hostname.is_empty(), "{info:?}");
}

#[tokio::test]
async fn container_lifecycle_create_start_list_logs_stop_remove() {
    let (bed, docker) = engine().await;
    let name = name("lifecycle");
    let _cleanup = Cleanup::new(&bed, &[&name]);
    let mut config = busybox(
        &name,
        &[
            "sh",
            "-c",
            "echo hello-out; echo hello-err >&2; exec sleep 300",
        ],
    );
    config.env = vec!["GREETING=hi".into()];
    config.memory_bytes = 64 << 20;
    config.nano_cpus = 500_000_000;

    let id = docker.create(&config).await.unwrap();
    let created = docker.inspect(&id).await.unwrap();
    assert_eq!(created.state, ContainerState::Created);
    assert_eq!(created.name, name);
    assert_eq!(created.labels["corral.test.engine"], name);
    assert!(created.started_at.is_empty(), "{}", created.started_at);

    docker.start(&id).await.unwrap();
    docker.start(&id).await.unwrap();
    let running = docker.inspect(&name).await.unwrap();
    assert_eq!(running.state, ContainerState::Running);
    assert!(!running.started_at.is_empty());

    let listed = docker.list("corral.test.engine").await.unwrap();
    let mine: Vec<_> = listed.iter().filter(|c| c.id == id).collect();
    assert_eq!(mine.len(), 1, "{listed:?}");
    assert_eq!(mine[0].state, ContainerState::Running);
    assert!(docker.list("corral.test.nothing").await.unwrap().is_empty());

    let logs = wait_for_logs(&docker, &id, &["hello-out", "hello-err"]).await;
    assert!(logs.contains("hello-out\n"), "{logs}");

    // PID 1 ignores SIGTERM: the grace period ends in SIGKILL.
    docker.stop(&id, 1).await.unwrap();
    docker.stop(&id, 1).await.unwrap();
    let stopped = docker.inspect(&id).await.unwrap();
    assert!(
        matches!(stopped.state, ContainerState::Exited(_)),
        "{stopped:?}"
    );

    docker.remove(&id).await.unwrap();
    docker.remove(&id).await.unwrap();
    assert!(matches!(
        docker.inspect(&id).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        docker.stop(&id, 1).await,
        Err(EngineError::NotFound(_))
    ));
    assert!(matches!(
        docker.start(&id).await,
        Err(EngineError::NotFound(_))
    ));
}

/// Reads the logs until every needle shows, or fails after [`TIMEOUT`].
async fn wait_for_logs(docker: &DockerEngine, id: &str, needles: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let options = LogOptions {
            follow: false,
            tail: Some(100),
        };
        let chunks: Vec<_> = docker.logs(id, options).collect().await;
        let text: String = chunks
            .into_iter()
            .map(|c| String::from_utf8_lossy(&c.unwrap()).into_owned())
            .collect();
        if needles.iter().all(|n| text.contains(n)) {
            return text;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "logs so far: {text:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn followed_logs_end_when_the_container_exits() {
    let (bed, docker) = engine().await;
    let name = name("follow");
    let _cleanup = Cleanup::new(&bed, &[&name]);
    let id = docker
        .create(&busybox(
            &name,
            &["sh", "-c", "sleep 1; echo one; echo two"],
        ))
        .await
        .unwrap();
    docker.start(&id).await.unwrap();
    let options = LogOptions {
        follow: true,
        tail: None,
    };
    let chunks: Vec<_> = tokio::time::timeout(TIMEOUT, docker.logs(&id, options).collect())
        .await
        .unwrap();
    let text: String = chunks
        .into_iter()
        .map(|c| String::from_utf8_lossy(&c.unwrap()).into_owned())
        .collect();
    assert_eq!(text, "one\ntwo\n");
}

#[tokio::test]
async fn events_show_start_and_die() {
    let (bed, docker) = engine().await;
    let name = name("events");
    let probe = format!("{name}-probe");
    let _cleanup = Cleanup::new(&bed, &[&name, &probe]);
    let mut events = subscribe(&docker, &probe).await;

    let id = docker
        .create(&busybox(&name, &["sh", "-c", "exit 3"]))
        .await
        .unwrap();
    docker.start(&id).await.unwrap();
    let mut actions = Vec::new();
    let die = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.recv().await {
            if event.container_id != id {
                continue;
            }
            actions.push(event.action.clone());
            if event.action == "die" {
                return event;
            }
        }
        panic!("the event stream ended");
    })
    .await
    .unwrap();
    assert!(actions.contains(&"start".to_owned()), "{actions:?}");
    assert_eq!(die.labels["exitCode"], "3");
    assert_eq!(die.labels["corral.test.engine"], name);
    assert_eq!(
        docker.inspect(&id).await.unwrap().state,
        ContainerState::Exited(3)
    );
    docker.remove(&id).await.unwrap();
}

#[tokio::test]
async fn create_of_a_missing_image_is_image_not_found() {
    let (_bed, docker) = engine().await;
    let mut config = busybox(&name("missing-image"), &[]);
    config.image = "corral-no-such-image:never".into();
    match docker.create(&config).await {
        Err(EngineError::ImageNotFound(image)) => assert_eq!(image, config.image),
        other => panic!("expected ImageNotFound, got {other:?}"),
    }
}

#[tokio::test]
async fn create_with_a_taken_name_is_name_in_use() {
    let (bed, docker) = engine().await;
    let name = name("taken");
    let _cleanup = Cleanup::new(&bed, &[&name]);
    let config = busybox(&name, &["true"]);
    docker.create(&config).await.unwrap();
    match docker.create(&config).await {
        Err(EngineError::NameInUse(taken)) => assert_eq!(taken, name),
        other => panic!("expected NameInUse, got {other:?}"),
    }
}

#[tokio::test]
async fn published_port_reaches_the_container() {
    let (bed, docker) = engine().await;
    let name = name("port");
    let _cleanup = Cleanup::new(&bed, &[&name]);
    let host_port = free_port();
    let mut config = busybox(&name, &["httpd", "-f", "-p", "80", "-h", "/www"]);
    config.ports = vec![PortBinding {
        container_port: 80,
        host_port,
        protocol: PortProtocol::Tcp,
    }];
    let id = docker.create(&config).await.unwrap();
    docker.start(&id).await.unwrap();
    let page = tokio::task::spawn_blocking(move || http_get(host_port))
        .await
        .unwrap();
    assert!(page.contains("corral-busybox"), "{page}");
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `GET /` on 127.0.0.1:`port`, retried while the server starts.
fn http_get(port: u16) -> String {
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let attempt = (|| -> std::io::Result<String> {
            let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            stream.write_all(b"GET / HTTP/1.0\r\nHost: test\r\n\r\n")?;
            let mut page = String::new();
            stream.read_to_string(&mut page)?;
            Ok(page)
        })();
        match attempt {
            Ok(page) if page.starts_with("HTTP/1.") => return page,
            _ if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            other => panic!("no answer on port {port}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn exec_runs_in_the_container_and_inspect_gives_its_address() {
    let (bed, docker) = engine().await;
    let name = name("exec");
    let volume = format!("corral-engine-test-vol-{}", std::process::id());
    let _cleanup = Cleanup::new(&bed, &[&name]);
    let labels = BTreeMap::from([("io.corral.stack".to_owned(), "t".to_owned())]);
    docker.create_volume(&volume, &labels).await.unwrap();
    docker.create_volume(&volume, &labels).await.unwrap();
    let mut config = busybox(&name, &["sleep", "300"]);
    config.mounts = vec![corral_engine::Mount {
        kind: corral_engine::MountKind::Volume,
        source: volume.clone(),
        target: "/data".into(),
        read_only: false,
    }];
    let id = docker.create(&config).await.unwrap();
    docker.start(&id).await.unwrap();
    let seen = docker.inspect(&id).await.unwrap();
    let cidr = bed.bridge_cidr();
    let subnet = cidr.trim_end_matches("1/24");
    assert!(seen.ip.starts_with(subnet), "{seen:?} not in {cidr}");
    let listed = docker.list("corral.test.engine").await.unwrap();
    assert!(
        listed.iter().any(|c| c.id == id && c.ip == seen.ip),
        "{listed:?}"
    );

    let cmd = |s: &str| vec!["sh".to_owned(), "-c".to_owned(), s.to_owned()];
    let t = Duration::from_secs(10);
    let ok = docker
        .exec(&id, &cmd("echo hi > /data/x; cat /data/x"), t)
        .await
        .unwrap();
    assert_eq!(ok.exit_code, 0);
    assert_eq!(ok.output.trim(), "hi");
    let failed = docker.exec(&id, &cmd("exit 3"), t).await.unwrap();
    assert_eq!(failed.exit_code, 3);
    let slow = docker
        .exec(&id, &cmd("sleep 5"), Duration::from_millis(300))
        .await;
    assert!(
        matches!(slow, Err(EngineError::ExecTimeout { .. })),
        "{slow:?}"
    );

    docker.remove(&id).await.unwrap();
    let _ = bed.docker().args(["volume", "rm", "-f", &volume]).output();
}
