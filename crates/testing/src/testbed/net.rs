//! The test bed's network: a bridge in the root namespace, one network
//! namespace per host joined to it by a veth pair, and the iptables rule
//! that lets traffic cross the bridge.

use std::fs::File;
use std::path::Path;
use std::process::Command;

use super::error::{Result, TestbedError};
use super::names::{Names, Subnet};
use super::procs::{run, succeeds};

/// Serialises subnet choice between test beds set up at the same moment
/// (a test and a CI clone), machine-wide.
const NET_LOCK: &str = "/tmp/corral-testbed-net.lock";

/// Holds the machine-wide network lock until dropped.
pub(crate) fn lock() -> Result<File> {
    let path = Path::new(NET_LOCK);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| TestbedError::io("open the lock file", path, e))?;
    file.lock().map_err(|e| TestbedError::io("lock", path, e))?;
    Ok(file)
}

pub(crate) fn link_exists(name: &str) -> bool {
    succeeds(Command::new("ip").args(["link", "show", "dev", name]))
}

/// `Some(true)` if the link is administratively up, `None` if it is missing.
pub(crate) fn link_is_up(name: &str) -> Option<bool> {
    let out = run(Command::new("ip").args(["-o", "link", "show", "dev", name])).ok()?;
    // `5: name@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu ...`
    let flags = out.split('<').nth(1)?.split('>').next()?;
    Some(flags.split(',').any(|f| f == "UP"))
}

/// The first candidate subnet no address or route of the root namespace
/// uses. Call it with [`lock`] held until the bridge has its address.
pub(crate) fn choose_subnet(preferred: u8) -> Result<Subnet> {
    let addresses = run(Command::new("ip").args(["-4", "-o", "addr", "show"]))?;
    let routes = run(Command::new("ip").args(["-4", "route", "show"]))?;
    Subnet::candidates(preferred)
        .find(|subnet| {
            let prefix = subnet.prefix();
            !addresses.contains(&format!("inet {prefix}"))
                && !routes.lines().any(|r| r.starts_with(&prefix))
        })
        .ok_or(TestbedError::NoFreeSubnet)
}

/// The bridge with the gateway address, up. Fine if it exists.
pub(crate) fn create_bridge(bridge: &str, subnet: Subnet) -> Result<()> {
    if !link_exists(bridge) {
        run(Command::new("ip").args(["link", "add", bridge, "type", "bridge"]))?;
    }
    let cidr = format!("{}/24", subnet.gateway());
    let shown = run(Command::new("ip").args(["-4", "-o", "addr", "show", "dev", bridge]))?;
    if !shown.contains(&format!("inet {cidr}")) {
        run(Command::new("ip").args(["addr", "add", &cidr, "dev", bridge]))?;
    }
    run(Command::new("ip").args(["link", "set", bridge, "up"]))?;
    Ok(())
}

fn forward_rule(bridge: &str) -> [&str; 8] {
    ["FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT", "-w"]
}

/// `iptables -I FORWARD -i BR -o BR -j ACCEPT`, once: a Docker Engine in
/// the root namespace sets the FORWARD policy to DROP, and with
/// `br_netfilter` bridged frames between the hosts go through FORWARD.
pub(crate) fn allow_forwarding(bridge: &str) -> Result<()> {
    let rule = forward_rule(bridge);
    if succeeds(Command::new("iptables").arg("-C").args(rule)) {
        return Ok(());
    }
    run(Command::new("iptables").arg("-I").args(rule))?;
    Ok(())
}

/// Removes every copy of the FORWARD rule.
pub(crate) fn disallow_forwarding(bridge: &str) -> Result<()> {
    let rule = forward_rule(bridge);
    // Bounded: each pass removes one copy.
    for _ in 0..16 {
        if !succeeds(Command::new("iptables").arg("-C").args(rule)) {
            return Ok(());
        }
        run(Command::new("iptables").arg("-D").args(rule))?;
    }
    Ok(())
}

/// Host `host`'s namespace: `eth0` (the peer of a veth whose other end is a
/// port of the bridge) with `10.213.X.(10+i)/24`, a default route via the
/// gateway, and `lo` up.
pub(crate) fn create_host_net(names: &Names, subnet: Subnet, host: usize) -> Result<()> {
    let netns = names.netns(host);
    let veth = names.veth(host);
    let ip_n = |args: &[&str]| -> Result<String> {
        run(Command::new("ip").arg("-n").arg(&netns).args(args))
    };
    run(Command::new("ip").args(["netns", "add", &netns]))?;
    run(Command::new("ip").args([
        "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns,
    ]))?;
    run(Command::new("ip").args(["link", "set", &veth, "master", &names.bridge()]))?;
    run(Command::new("ip").args(["link", "set", &veth, "up"]))?;
    ip_n(&["link", "set", "lo", "up"])?;
    ip_n(&[
        "addr",
        "add",
        &format!("{}/24", subnet.host(host)),
        "dev",
        "eth0",
    ])?;
    ip_n(&["link", "set", "eth0", "up"])?;
    ip_n(&[
        "route",
        "add",
        "default",
        "via",
        &subnet.gateway().to_string(),
    ])?;
    Ok(())
}

/// `ip link set <veth> up|down`: the host's cable, plugged or pulled.
pub(crate) fn set_link(veth: &str, up: bool) -> Result<()> {
    let state = if up { "up" } else { "down" };
    run(Command::new("ip").args(["link", "set", veth, state]))?;
    Ok(())
}

/// Names in `listing` (one per line, first word, `name@peer:` trimmed) that
/// are `prefix` followed by a host number.
fn numbered(listing: &str, prefix: &str, first_field: usize) -> Vec<(usize, String)> {
    let mut found: Vec<(usize, String)> = listing
        .lines()
        .filter_map(|line| line.split_whitespace().nth(first_field))
        .map(|name| name.trim_end_matches(':'))
        .map(|name| name.split('@').next().unwrap_or(name))
        .filter_map(|name| {
            let host = name.strip_prefix(prefix)?.parse::<usize>().ok()?;
            Some((host, name.to_string()))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The host namespaces of this test bed that exist, by host number.
pub(crate) fn existing_netns(names: &Names) -> Vec<(usize, String)> {
    let listing = run(Command::new("ip").args(["netns", "list"])).unwrap_or_default();
    numbered(&listing, &names.netns_prefix(), 0)
}

/// The veth ends of this test bed in the root namespace that exist.
pub(crate) fn existing_veths(names: &Names) -> Vec<(usize, String)> {
    let listing = run(Command::new("ip").args(["-o", "link", "show"])).unwrap_or_default();
    numbered(&listing, &names.veth_prefix(), 1)
}

/// Deletes a namespace (its `eth0`, and so the veth pair, go with it).
pub(crate) fn delete_netns(netns: &str) -> Result<()> {
    run(Command::new("ip").args(["netns", "delete", netns]))?;
    Ok(())
}

/// Deletes a link if it exists. A veth whose peer's namespace was just
/// deleted goes away by itself a moment later (the kernel cleans up
/// namespaces asynchronously): a delete that fails because the link is
/// gone meanwhile is not an error.
pub(crate) fn delete_link(name: &str) -> Result<()> {
    if link_exists(name)
        && let Err(e) = run(Command::new("ip").args(["link", "delete", name]))
        && link_exists(name)
    {
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_names_are_found_in_ip_listings() {
        let netns = "ctb-0badf00d-h2 (id: 4)\nctb-0badf00d-h10\nctb-0badf00d-hx\nother\n";
        assert_eq!(
            numbered(netns, "ctb-0badf00d-h", 0),
            vec![
                (2, "ctb-0badf00d-h2".into()),
                (10, "ctb-0badf00d-h10".into())
            ]
        );
        let links = "1: lo: <LOOPBACK,UP> mtu 65536\n\
                     7: ctb0badf00dh1@if2: <BROADCAST,UP> mtu 1500\n\
                     8: ctb-0badf00d: <BROADCAST,UP> mtu 1500\n";
        assert_eq!(
            numbered(links, "ctb0badf00dh", 1),
            vec![(1, "ctb0badf00dh1".into())]
        );
    }
}
