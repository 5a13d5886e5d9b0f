//! The managed (overlay) network on the multi-host test bed: containers of
//! one environment reach each other by address across hosts (VXLAN
//! between the hosts' namespaces, programmed by the agents), containers
//! of two environments cannot, and bridge- and host-mode services still
//! answer on their published ports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::Duration;

use common::testbed::{blocking, bring_up};
use common::{BUSYBOX, WHOAMI, wait_for};
use corral_api::Client;
use corral_testing::Testbed;
use corral_types::{
    Environment, EnvironmentSpec, Instance, InstanceState, Ipv4Cidr, Kind, NetworkMode, NodeState,
    Object, PortSpec, ServiceSpec,
};

/// The slices of the active nodes of `env`, once `names` are all active with one.
async fn slices(client: &Client, env: &str, names: &[&str]) -> Vec<(String, Ipv4Cidr)> {
    wait_for(
        &format!("nodes {names:?} active in {env} with a slice"),
        Duration::from_secs(60),
        || async move {
            let nodes = client.nodes(env).await.ok()?.items;
            let found: Vec<(String, Ipv4Cidr)> = names
                .iter()
                .filter_map(|name| {
                    let n = nodes.iter().find(|n| n.meta.name == *name)?;
                    (n.status.state == NodeState::Active)
                        .then(|| Some((n.meta.name.clone(), n.status.subnet.parse().ok()?)))?
                })
                .collect();
            (found.len() == names.len()).then_some(found)
        },
    )
    .await
}

/// A busybox web server answering `ok` on port 80, `scale` replicas.
fn mesh(env: &str, name: &str, scale: u32) -> corral_types::Service {
    let script = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 80 -h /www";
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale,
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        command: vec![script.into()],
        ..Default::default()
    };
    Object::new(Kind::Service, env, name, spec)
}

/// The running instances of `service` once all `n` run with an address.
async fn running(client: &Client, env: &str, service: &str, n: usize) -> Vec<Instance> {
    wait_for(
        &format!("{n} running instances of {env}/{service} with an address"),
        Duration::from_secs(90),
        || async move {
            let all = client.service_instances(env, service).await.ok()?.items;
            let ready: Vec<Instance> = all
                .iter()
                .filter(|i| i.status.state == InstanceState::Running && !i.status.ip.is_empty())
                .cloned()
                .collect();
            (ready.len() == n && all.len() == n).then_some(ready)
        },
    )
    .await
}

/// Sends `GET /` to `ip:80` with `nc` from the instance's container (the
/// static busybox's `wget` crashes); true if it answered `ok` within 3 s.
fn fetch(bed: &Testbed, from: &Instance, ip: &str) -> bool {
    let index: usize = from.spec.node.trim_start_matches('h').parse().unwrap();
    let host = bed.host(index).unwrap();
    let script = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {ip} 80");
    let out = host
        .docker()
        .args(["exec", &from.status.container_id, "sh", "-c", &script])
        .output()
        .unwrap();
    out.status.success()
        && String::from_utf8_lossy(&out.stdout)
            .trim_end()
            .ends_with("\nok")
}

/// Waits until `from` reaches `ip` (the overlay is programmed every few seconds).
async fn reaches(bed: &Testbed, from: &Instance, ip: &str) {
    for _ in 0..20 {
        let (b, f, i) = (bed.clone(), from.clone(), ip.to_string());
        if blocking(move || fetch(&b, &f, &i)).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "{} on {} never reached {ip}",
        from.meta.name, from.spec.node
    );
}

/// A plain HTTP GET from the root namespace; true on a 200.
fn http_ok(addr: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(3))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(3)));
    let req = format!("GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    let mut reply = String::new();
    s.write_all(req.as_bytes()).is_ok()
        && s.read_to_string(&mut reply).is_ok()
        && reply.starts_with("HTTP/1.")
        && reply.contains(" 200 ")
}

async fn answers(addr: String) {
    wait_for(
        &format!("{addr} answering"),
        Duration::from_secs(60),
        || {
            let addr = addr.clone();
            async move { blocking(move || http_ok(&addr)).await.then_some(()) }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_network_spans_hosts_and_isolates_environments() {
    let (bed, _down) = bring_up("test-network", 3).await;
    let client = common::testbed::client_of(&bed);
    let nodes = slices(&client, "default", &["h1", "h2", "h3"]).await;
    let range: Ipv4Cidr = "10.42.0.0/16".parse().unwrap();
    let mut distinct: Vec<Ipv4Cidr> = nodes.iter().map(|(_, s)| *s).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{nodes:?}");
    assert!(distinct.iter().all(|s| range.slice_index(s).is_some()));

    // One container per host; each reaches the others by address.
    client.create(&mesh("default", "mesh", 3)).await.unwrap();
    let all = running(&client, "default", "mesh", 3).await;
    let mut hosts: Vec<&str> = all.iter().map(|i| i.spec.node.as_str()).collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["h1", "h2", "h3"], "one replica per host");
    for inst in &all {
        let slice = nodes.iter().find(|(n, _)| *n == inst.spec.node).unwrap().1;
        let ip: Ipv4Addr = inst.status.ip.parse().unwrap();
        assert!(slice.contains(ip), "{ip} of {} in {slice}", inst.meta.name);
    }
    for from in &all {
        for to in all.iter().filter(|t| t.spec.node != from.spec.node) {
            reaches(&bed, from, &to.status.ip).await;
        }
    }

    // Bridge and host modes still work: published on the host's address.
    let h1 = bed.host(1).unwrap();
    let bridged = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        network_mode: NetworkMode::Bridge,
        ports: vec!["18081:80".parse::<PortSpec>().unwrap()],
        placement: pinned("h1"),
        ..Default::default()
    };
    let hosted = ServiceSpec {
        image: WHOAMI.into(),
        scale: 1,
        network_mode: NetworkMode::Host,
        command: vec!["--port".into(), "18082".into()],
        placement: pinned("h1"),
        ..Default::default()
    };
    for (name, spec) in [("bridged", bridged), ("hosted", hosted)] {
        let service: corral_types::Service = Object::new(Kind::Service, "default", name, spec);
        client.create(&service).await.unwrap();
    }
    answers(format!("{}:18081", h1.address)).await;
    answers(format!("{}:18082", h1.address)).await;
    let bridged = running(&client, "default", "bridged", 1).await;
    let bridge_ip: Ipv4Addr = bridged[0].status.ip.parse().unwrap();
    assert!(
        !range.contains(bridge_ip),
        "bridge mode is off the overlay: {bridge_ip}"
    );

    isolation(&bed, &client).await;
}

fn pinned(node: &str) -> corral_types::Placement {
    corral_types::Placement {
        rules: vec![corral_types::PlacementRule {
            target: corral_types::RuleTarget::NodeName { value: node.into() },
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// h3 moves to a second environment: its container and the default
/// environment's cannot reach each other, in either direction.
async fn isolation(bed: &Testbed, client: &Client) {
    client
        .delete("default", Kind::Service, "mesh")
        .await
        .unwrap();
    let other: Environment = Object::new(
        Kind::Environment,
        "other",
        "other",
        EnvironmentSpec::default(),
    );
    let other = client.create(&other).await.unwrap();
    assert_eq!(other.spec.network, "10.43.0.0/16");
    let b = bed.clone();
    blocking(move || b.move_agent(3, "other")).await.unwrap();
    client.delete("default", Kind::Node, "h3").await.unwrap();
    slices(client, "other", &["h3"]).await;
    client.create(&mesh("default", "mesh2", 2)).await.unwrap();
    client.create(&mesh("other", "mesh", 1)).await.unwrap();
    let ours = running(client, "default", "mesh2", 2).await;
    let theirs = running(client, "other", "mesh", 1).await;
    assert!(ours.iter().all(|i| i.spec.node != "h3"));
    reaches(bed, &ours[0], &ours[1].status.ip).await;
    for inst in &ours {
        let (b, f, i) = (bed.clone(), theirs[0].clone(), inst.status.ip.clone());
        assert!(
            !blocking(move || fetch(&b, &f, &i)).await,
            "other reached default"
        );
        let (b, f, i) = (bed.clone(), inst.clone(), theirs[0].status.ip.clone());
        assert!(
            !blocking(move || fetch(&b, &f, &i)).await,
            "default reached other"
        );
    }
}
