//! The managed network's host-level guards on the multi-host test bed:
//! a VXLAN frame is accepted only from a peer node's host address (one
//! from any other address never reaches a container), and an agent
//! refuses a range that overlaps a route already on its host, saying so
//! in its node's status.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;
use std::time::Duration;

use common::testbed::{blocking, bring_up, client_of};
use common::{BUSYBOX, wait_for};
use corral_api::Client;
use corral_testing::Host;
use corral_types::{Instance, InstanceState, Ipv4Cidr, Kind, NodeState, Object, ServiceSpec};

/// The slice of each of `names` in `default`, once all are active with one.
async fn slices(client: &Client, names: &[&str]) -> Vec<Ipv4Cidr> {
    wait_for(
        &format!("nodes {names:?} active with a slice"),
        Duration::from_secs(60),
        || async move {
            let nodes = client.nodes("default").await.ok()?.items;
            names
                .iter()
                .map(|name| {
                    let n = nodes.iter().find(|n| n.meta.name == *name)?;
                    (n.status.state == NodeState::Active).then_some(())?;
                    n.status.subnet.parse().ok()
                })
                .collect()
        },
    )
    .await
}

/// A busybox container that only sleeps, on node `node`, running with an address.
async fn sleeper_on(client: &Client, node: &str) -> Instance {
    let spec = ServiceSpec {
        image: BUSYBOX.into(),
        scale: 1,
        command: vec!["sleep".into(), "3600".into()],
        placement: corral_types::Placement {
            rules: vec![corral_types::PlacementRule {
                target: corral_types::RuleTarget::NodeName { value: node.into() },
                ..Default::default()
            }],
            ..Default::default()
        },
        ..Default::default()
    };
    let service: corral_types::Service = Object::new(Kind::Service, "default", "target", spec);
    client.create(&service).await.unwrap();
    wait_for(
        "the target container running with an address",
        Duration::from_secs(90),
        || async move {
            let all = client.service_instances("default", "target").await.ok()?;
            all.items.into_iter().find(|i| {
                i.status.state == InstanceState::Running
                    && !i.status.ip.is_empty()
                    && !i.status.container_id.is_empty()
            })
        },
    )
    .await
}

fn mac_bytes(mac: &str) -> [u8; 6] {
    let mut out = [0u8; 6];
    for (b, part) in out.iter_mut().zip(mac.split(':')) {
        *b = u8::from_str_radix(part, 16).unwrap();
    }
    out
}

/// The Internet checksum (RFC 1071).
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A VXLAN packet's UDP payload: the VXLAN header with `vni`, then an
/// Ethernet frame to `dst_mac` carrying an ICMP echo request from `src` to
/// `dst` (what a peer's VXLAN device sends for a ping between containers).
fn vxlan_echo(
    vni: u32,
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Vec<u8> {
    let mut icmp = vec![8, 0, 0, 0, 0x43, 0x52, 0, 1];
    icmp.extend_from_slice(b"corral-vxlan-filter-test");
    let sum = checksum(&icmp);
    icmp[2..4].copy_from_slice(&sum.to_be_bytes());
    let total = u16::try_from(20 + icmp.len()).unwrap();
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&total.to_be_bytes());
    ip.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, 1, 0, 0]);
    ip.extend_from_slice(&src.octets());
    ip.extend_from_slice(&dst.octets());
    let sum = checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let vni = vni.to_be_bytes();
    let mut packet = vec![0x08, 0, 0, 0, vni[1], vni[2], vni[3], 0];
    packet.extend_from_slice(&dst_mac);
    packet.extend_from_slice(&src_mac);
    packet.extend_from_slice(&[0x08, 0x00]);
    packet.extend_from_slice(&ip);
    packet.extend_from_slice(&icmp);
    packet
}

/// Runs `args` in `host`'s network namespace; its stdout.
fn in_netns(host: &Host, args: &[&str]) -> String {
    let out = Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{}", host.netns))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?} in {}: {}",
        host.netns,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The echo requests the container's kernel received (`Icmp: InEchos` of
/// its `/proc/net/snmp`): nothing else pings it in this test.
fn echoes_received(host: &Host, container: &str) -> u64 {
    let out = host
        .docker()
        .args(["exec", container, "cat", "/proc/net/snmp"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let icmp: Vec<&str> = text.lines().filter(|l| l.starts_with("Icmp: ")).collect();
    let names: Vec<&str> = icmp[0].split_whitespace().collect();
    let values: Vec<&str> = icmp[1].split_whitespace().collect();
    let at = names.iter().position(|n| *n == "InEchos").unwrap();
    values[at].parse().unwrap()
}

/// Packets the VXLAN filter's DROP rule on `host` counted.
fn filter_drops(host: &Host, chain: &str) -> u64 {
    let out = in_netns(
        host,
        &["iptables", "-w", "-t", "raw", "-L", chain, "-v", "-x", "-n"],
    );
    let line = out
        .lines()
        .find(|l| l.contains("DROP"))
        .unwrap_or_else(|| panic!("no DROP rule in {chain}: {out}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

async fn echoes_after(host: &Host, container: &str, wait: Duration) -> u64 {
    tokio::time::sleep(wait).await;
    let (h, c) = (host.clone(), container.to_string());
    blocking(move || echoes_received(&h, &c)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vxlan_from_a_non_peer_never_reaches_a_container_and_an_overlapping_route_is_refused() {
    let (bed, _down) = bring_up("test-vxlan", 2).await;
    let client = client_of(&bed);
    let found = slices(&client, &["h1", "h2"]).await;
    let (h1_slice, h2_slice) = (found[0], found[1]);
    let target = sleeper_on(&client, "h1").await;
    let (h1, h2) = (bed.host(1).unwrap(), bed.host(2).unwrap());

    let cluster = std::fs::read_to_string(bed.root().join("server/cluster-id")).unwrap();
    let cluster = cluster.trim();
    let vni = corral_overlay::vni_of(cluster, "default");
    let chain = format!("CORRAL-{}", corral_overlay::env_tag(cluster, "default"));
    let frame = vxlan_echo(
        vni,
        mac_bytes(&corral_overlay::mac_of(&h1_slice)),
        mac_bytes(&corral_overlay::mac_of(&h2_slice)),
        h2_slice.host(250),
        target.status.ip.parse().unwrap(),
    );
    let tunnel = format!("{}:{}", h1.address, corral_overlay::VXLAN_PORT);
    let container = target.status.container_id.clone();
    let before = echoes_after(&h1, &container, Duration::ZERO).await;
    let (h, c) = (h1.clone(), chain.clone());
    let drops_before = blocking(move || filter_drops(&h, &c)).await;

    // From the test bed's gateway (the server's address, not a node of
    // the environment): dropped on arrival, the container sees nothing.
    let stranger = UdpSocket::bind((bed.gateway(), 0)).unwrap();
    for _ in 0..5 {
        stranger.send_to(&frame, &tunnel).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = echoes_after(&h1, &container, Duration::from_secs(1)).await;
    assert_eq!(after, before, "a non-peer's frame reached the container");
    let (h, c) = (h1.clone(), chain.clone());
    let drops = blocking(move || filter_drops(&h, &c)).await;
    assert!(
        drops >= drops_before + 5,
        "the filter dropped {} of 5",
        drops - drops_before
    );

    // The same frame from h2, a peer: the container answers it (so what
    // stopped the stranger's was the source address, nothing else).
    let file = bed.root().join("vxlan-echo.bin");
    std::fs::write(&file, &frame).unwrap();
    let send = format!(
        "cat {} > /dev/udp/{}/{}",
        file.display(),
        h1.address,
        corral_overlay::VXLAN_PORT
    );
    let mut delivered = false;
    for _ in 0..10 {
        let (h, s) = (h2.clone(), send.clone());
        blocking(move || in_netns(&h, &["bash", "-c", &s])).await;
        if echoes_after(&h1, &container, Duration::from_millis(300)).await > before {
            delivered = true;
            break;
        }
    }
    std::fs::remove_file(&file).unwrap();
    assert!(delivered, "the peer's frame never reached the container");

    overlapping_route_is_refused(&client, &h2).await;
}

/// A route inside the environment's range appears on h2 (as another
/// installation's bridge would): h2's agent refuses to program the overlay
/// and its node's status names both; the route gone, it programs again.
async fn overlapping_route_is_refused(client: &Client, h2: &Host) {
    let h = h2.clone();
    blocking(move || {
        in_netns(&h, &["ip", "link", "add", "cr-intruder", "type", "bridge"]);
        in_netns(
            &h,
            &["ip", "addr", "add", "10.42.200.1/24", "dev", "cr-intruder"],
        );
        in_netns(&h, &["ip", "link", "set", "cr-intruder", "up"]);
    })
    .await;
    let problem = |want: bool| async move {
        let nodes = client.nodes("default").await.ok()?.items;
        let h2 = nodes.into_iter().find(|n| n.meta.name == "h2")?;
        let error = h2.status.network_error;
        (want != error.is_empty()).then_some(error)
    };
    // The agent checks again when its plan changes or every 30 s.
    let error = wait_for("h2 reporting the overlap", Duration::from_secs(60), || {
        problem(true)
    })
    .await;
    for part in ["10.42.0.0/16", "10.42.200.0/24", "cr-intruder"] {
        assert!(error.contains(part), "{error}");
    }
    let h = h2.clone();
    blocking(move || in_netns(&h, &["ip", "link", "delete", "cr-intruder"])).await;
    wait_for(
        "h2's network error cleared",
        Duration::from_secs(30),
        || problem(false),
    )
    .await;
}
