//! An application across the 3-host test bed, deployed from compose files
//! like a user's: a web service, a client and a Rancher load balancer.
//! Containers on different hosts find each other by every internal DNS
//! name (service, service.stack, the full name, a link alias, a compose
//! alias, a sidekick's name, an instance name) and reach each other over
//! the managed network; the metadata
//! service answers a container about itself; the load balancer spreads
//! requests over the instances of all hosts and loses none while the web
//! service is upgraded (start-first, then stop-first); and DNS lookups in a
//! loop never fail while instances come and go.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::probe::{Load, get};
use common::testbed::{blocking, bring_up, client_of, wait_node_in};
use common::wait_for;
use corral_api::{Client, DeployRequest};
use corral_testing::Testbed;
use corral_types::{Instance, InstanceState, NodeState, Service, SourceFile, UpdateOrder};

const STACK: &str = "shop";
const LB_PORT: u16 = 8088;

const COMPOSE: &str = r#"version: '2'
services:
  web:
    image: corral-whoami:latest
    environment:
      RELEASE: "1"
    labels:
      io.rancher.sidekicks: web-log
    networks:
      default:
        aliases:
          - frontend
  web-log:
    image: corral-busybox:latest
    command: ["sleep", "3600"]
  client:
    image: corral-busybox:latest
    command: ["sleep", "3600"]
    links:
      - web:backend
  lb:
    image: rancher/lb-service-haproxy
    ports:
      - 8088:8088
"#;

const RANCHER_COMPOSE: &str = r#"version: '2'
services:
  web:
    scale: 3
  client:
    scale: 1
  lb:
    scale: 1
    lb_config:
      port_rules:
        - source_port: 8088
          target_port: 80
          service: web
"#;

fn files() -> Vec<SourceFile> {
    vec![
        SourceFile {
            name: "docker-compose.yml".into(),
            content: COMPOSE.into(),
        },
        SourceFile {
            name: "rancher-compose.yml".into(),
            content: RANCHER_COMPOSE.into(),
        },
    ]
}

/// The running instances of `service` once there are exactly `n`, all
/// running with an address and none being removed.
async fn settled(client: &Client, service: &str, n: usize) -> Vec<Instance> {
    wait_for(
        &format!("{n} running instances of {service}"),
        Duration::from_secs(120),
        || async move {
            let all = client
                .service_instances("default", service)
                .await
                .ok()?
                .items;
            let ok = all.len() == n
                && all.iter().all(|i| {
                    i.status.state == InstanceState::Running
                        && !i.spec.removing
                        && (i.spec.launch.lb.is_some() || !i.status.ip.is_empty())
                });
            ok.then_some(all)
        },
    )
    .await
}

/// Runs `script` with `sh -c` in the instance's container on its host.
fn exec(bed: &Testbed, inst: &Instance, script: &str) -> (bool, String) {
    let index: usize = inst.spec.node.trim_start_matches('h').parse().unwrap();
    let host = bed.host(index).unwrap();
    let out = host
        .docker()
        .args(["exec", &inst.status.container_id, "sh", "-c", script])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The IPv4 addresses `nslookup NAME` prints for the name (after the
/// server's own lines), or the failure text.
fn lookup(bed: &Testbed, inst: &Instance, name: &str) -> Result<BTreeSet<String>, String> {
    let (ok, text) = exec(bed, inst, &format!("nslookup -type=a {name}"));
    if !ok {
        return Err(text);
    }
    let answers = text
        .split_once(&format!("Name:\t{name}"))
        .or_else(|| text.split_once("Name:"))
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    Ok(answers
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address: "))
        .map(|a| a.trim().to_string())
        .collect())
}

/// The `IP:` lines of a whoami answer (the instance's addresses).
fn answered_by(body: &str) -> BTreeSet<String> {
    body.lines()
        .filter_map(|l| l.strip_prefix("IP: "))
        .map(|a| a.trim().to_string())
        .collect()
}

/// Changes the web service's environment (a new launch config) with the
/// given update order, and waits until every instance runs the new one.
async fn upgrade(client: &Client, release: &str, order: UpdateOrder) {
    let name = format!("{STACK}-web");
    let mut svc: Service = client
        .get("default", corral_types::Kind::Service, &name)
        .await
        .unwrap();
    svc.spec.env.insert("RELEASE".into(), release.into());
    svc.spec.update.order = order;
    svc.spec.update.batch_size = 1;
    client.update(&svc).await.unwrap();
    wait_for(
        &format!("web at release {release}"),
        Duration::from_secs(120),
        || {
            let (client, name) = (client, &name);
            async move {
                let all = client.service_instances("default", name).await.ok()?.items;
                let ok = all.len() == 3
                    && all.iter().all(|i| {
                        i.status.state == InstanceState::Running
                            && !i.spec.removing
                            && i.spec.launch.env.get("RELEASE").map(String::as_str) == Some(release)
                    });
                ok.then_some(())
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_across_hosts_finds_itself_by_name_and_serves_through_its_balancer() {
    let (bed, mut down) = bring_up("test-apps", 3).await;
    let client = client_of(&bed);
    for name in ["h1", "h2", "h3"] {
        wait_node_in(
            &client,
            "default",
            name,
            NodeState::Active,
            Duration::from_secs(60),
        )
        .await;
    }
    let req = DeployRequest {
        files: files(),
        ..Default::default()
    };
    client.deploy_stack("default", STACK, &req).await.unwrap();
    let web = settled(&client, "shop-web", 3).await;
    let cli = settled(&client, "shop-client", 1).await.remove(0);
    let lb = settled(&client, "shop-lb", 1).await.remove(0);
    let web_ips: BTreeSet<String> = web.iter().map(|i| i.status.ip.clone()).collect();
    let hosts: BTreeSet<&str> = web.iter().map(|i| i.spec.node.as_str()).collect();
    assert_eq!(hosts.len(), 3, "one web instance per host: {web:?}");

    // Every name form answers the serving addresses, from another host too.
    for name in [
        "web",
        "web.shop",
        "web.shop.default.corral.internal",
        "backend",
        "frontend",
        "web-log.web",
        "web-log.web.shop",
    ] {
        let found = wait_for(&format!("{name} resolves"), Duration::from_secs(30), || {
            let (bed, cli, want) = (bed.clone(), cli.clone(), web_ips.clone());
            async move {
                let r = blocking(move || lookup(&bed, &cli, name)).await.ok()?;
                (r == want).then_some(r)
            }
        })
        .await;
        assert_eq!(found, web_ips, "{name}");
    }
    let one = &web[0];
    let (bed2, cli2, name) = (bed.clone(), cli.clone(), one.meta.name.clone());
    let by_instance = blocking(move || lookup(&bed2, &cli2, &name)).await.unwrap();
    assert_eq!(by_instance, BTreeSet::from([one.status.ip.clone()]));
    let (bed2, cli2) = (bed.clone(), cli.clone());
    let metadata = blocking(move || lookup(&bed2, &cli2, "rancher-metadata"))
        .await
        .unwrap();
    assert_eq!(metadata, BTreeSet::from(["169.254.169.250".to_string()]));
    // An unknown internal name: NXDOMAIN at once.
    let (bed2, cli2) = (bed.clone(), cli.clone());
    let (ok, text, took) = blocking(move || {
        let started = Instant::now();
        let (ok, text) = exec(&bed2, &cli2, "nslookup -type=a nosuch.shop");
        (ok, text, started.elapsed())
    })
    .await;
    assert!(!ok && text.contains("NXDOMAIN"), "{text}");
    assert!(took < Duration::from_secs(3), "NXDOMAIN took {took:?}");

    // Over the managed network by name and by address, across hosts.
    for target in web_ips.iter().map(String::as_str).chain(["web.shop"]) {
        let (bed2, cli2) = (bed.clone(), cli.clone());
        let script = format!("curl -sf --max-time 5 http://{target}/");
        let (ok, text) = blocking(move || exec(&bed2, &cli2, &script)).await;
        assert!(ok && text.contains("Hostname"), "curl {target}: {text}");
    }

    // The metadata service knows the caller by its address.
    let (bed2, cli2) = (bed.clone(), cli.clone());
    let (ok, index) = blocking(move || {
        exec(
            &bed2,
            &cli2,
            "curl -sf http://rancher-metadata/2015-12-19/self/container/create_index",
        )
    })
    .await;
    assert!(ok, "{index}");
    assert_eq!(index.trim(), cli.spec.ordinal.to_string());
    let (bed2, cli2) = (bed.clone(), cli.clone());
    let (ok, ip) = blocking(move || {
        exec(
            &bed2,
            &cli2,
            "curl -sf http://rancher-metadata/latest/self/container/primary_ip",
        )
    })
    .await;
    assert!(ok, "{ip}");
    assert_eq!(ip.trim(), cli.status.ip);

    // The balancer spreads requests over the instances of every host.
    let lb_host = bed
        .host(lb.spec.node.trim_start_matches('h').parse().unwrap())
        .unwrap();
    let lb_addr = SocketAddr::from((lb_host.address, LB_PORT));
    let seen = blocking(move || {
        let mut seen = BTreeSet::new();
        for _ in 0..60 {
            if let Ok(body) = get(lb_addr, "shop") {
                seen.extend(answered_by(&body));
            }
        }
        seen
    })
    .await;
    for ip in &web_ips {
        assert!(
            seen.contains(ip),
            "{ip} never answered through the balancer: {seen:?}"
        );
    }

    // Rolling upgrades under load lose no request.
    for (release, order) in [
        ("2", UpdateOrder::StartFirst),
        ("3", UpdateOrder::StopFirst),
    ] {
        let load = Load::start(lb_addr, "shop", Duration::from_secs(150), Duration::ZERO);
        tokio::time::sleep(Duration::from_millis(500)).await;
        upgrade(&client, release, order).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (ok, failed, errors) = load.finish().await;
        eprintln!("upgrade {order:?}: {ok} requests answered, {failed} failed");
        assert!(ok > 50, "too few requests to tell: {ok}");
        assert_eq!(failed, 0, "{order:?}: {errors:?}");
    }

    // DNS under churn: lookups in a loop while instances come and go.
    let (bed2, cli2) = (bed.clone(), cli.clone());
    let looping = blocking(move || {
        let script = "f=0; i=0; while [ $i -lt 400 ]; do \
                      nslookup -type=a web >/dev/null 2>&1 || f=$((f+1)); i=$((i+1)); done; echo $f";
        exec(&bed2, &cli2, script)
    });
    let churn = async {
        for scale in [6u32, 2, 5, 3] {
            let mut svc: Service = client
                .get("default", corral_types::Kind::Service, "shop-web")
                .await
                .unwrap();
            svc.spec.scale = scale;
            client.update(&svc).await.unwrap();
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    };
    let ((ok, failures), ()) = tokio::join!(looping, churn);
    assert!(ok, "{failures}");
    assert_eq!(
        failures.trim(),
        "0",
        "failed lookups of web out of 400 under churn"
    );

    blocking(move || down.now())
        .await
        .unwrap_or_else(|e| panic!("{}", e.chain()));
}
