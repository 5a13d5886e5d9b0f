//! [`NetProgrammer`] on the real kernel: `ip`, `bridge` (iproute2) and
//! `iptables`/`iptables-restore`, run with `tokio::process`. Reads use the
//! JSON output of iproute2 (`-j`).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::OverlayError;
use crate::plan::HostRoute;
use crate::programmer::{LinkInfo, NetProgrammer, VxlanSpec};

/// The real programmer: runs commands in the agent's network namespace.
#[derive(Debug, Clone, Default)]
pub struct IpCommands;

/// What a finished command printed.
struct Output {
    ok: bool,
    stdout: String,
    stderr: String,
}

async fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<Output, OverlayError> {
    let command = || format!("{program} {}", args.join(" "));
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| OverlayError::Command {
        command: command(),
        message: e.to_string(),
    })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())
            .await
            .map_err(|e| OverlayError::Command {
                command: command(),
                message: format!("writing its input: {e}"),
            })?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| OverlayError::Command {
            command: command(),
            message: e.to_string(),
        })?;
    Ok(Output {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    })
}

/// Runs a command that must succeed; returns its stdout.
async fn check(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, OverlayError> {
    let out = run(program, args, stdin).await?;
    if out.ok {
        Ok(out.stdout)
    } else {
        Err(OverlayError::Command {
            command: format!("{program} {}", args.join(" ")),
            message: out.stderr,
        })
    }
}

fn json(command: &str, text: &str) -> Result<Vec<Value>, OverlayError> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str::<Vec<Value>>(text).map_err(|e| OverlayError::Command {
        command: command.to_string(),
        message: format!("unexpected output: {e}"),
    })
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn ip_of(v: &Value, key: &str) -> Option<Ipv4Addr> {
    str_of(v, key).and_then(|s| s.parse().ok())
}

/// A device from `ip -j -d link show` output.
fn parse_link(v: &Value) -> LinkInfo {
    let info = v.get("linkinfo");
    let data = info.and_then(|i| i.get("info_data"));
    let flags = v.get("flags").and_then(Value::as_array);
    LinkInfo {
        kind: info
            .and_then(|i| str_of(i, "info_kind"))
            .unwrap_or_default()
            .to_string(),
        mac: str_of(v, "address").unwrap_or_default().to_string(),
        mtu: v
            .get("mtu")
            .and_then(Value::as_u64)
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or_default(),
        up: flags.is_some_and(|f| f.iter().any(|x| x.as_str() == Some("UP"))),
        vni: data
            .and_then(|d| d.get("id"))
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        local: data.and_then(|d| ip_of(d, "local")),
        port: data
            .and_then(|d| d.get("port"))
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok()),
    }
}

/// Routes from `ip -j route show` output: destination and device.
fn host_routes_of(routes: &[Value]) -> Vec<HostRoute> {
    routes
        .iter()
        .filter_map(|r| {
            Some(HostRoute {
                dst: str_of(r, "dst")?.to_string(),
                dev: str_of(r, "dev").unwrap_or_default().to_string(),
            })
        })
        .collect()
}

fn iptables_rules_of(chain: &str, text: &str) -> Vec<String> {
    let prefix = format!("-A {chain} ");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(str::to_string)
        .collect()
}

#[async_trait::async_trait]
impl NetProgrammer for IpCommands {
    async fn link(&self, name: &str) -> Result<Option<LinkInfo>, OverlayError> {
        let out = run("ip", &["-j", "-d", "link", "show", "dev", name], None).await?;
        if !out.ok {
            if out.stderr.contains("does not exist") {
                return Ok(None);
            }
            return Err(OverlayError::Command {
                command: format!("ip link show dev {name}"),
                message: out.stderr,
            });
        }
        Ok(json("ip link show", &out.stdout)?.first().map(parse_link))
    }

    async fn add_vxlan(&self, spec: &VxlanSpec) -> Result<(), OverlayError> {
        let (vni, local, port) = (
            spec.vni.to_string(),
            spec.local.to_string(),
            spec.port.to_string(),
        );
        let args = [
            "link",
            "add",
            spec.name.as_str(),
            "type",
            "vxlan",
            "id",
            &vni,
            "local",
            &local,
            "dstport",
            &port,
            "nolearning",
        ];
        check("ip", &args, None).await.map(drop)
    }

    async fn delete_link(&self, name: &str) -> Result<(), OverlayError> {
        check("ip", &["link", "delete", name], None).await.map(drop)
    }

    async fn set_link(&self, name: &str, mac: &str, mtu: u32) -> Result<(), OverlayError> {
        let mtu = mtu.to_string();
        let args = [
            "link", "set", "dev", name, "address", mac, "mtu", &mtu, "up",
        ];
        check("ip", &args, None).await.map(drop)
    }

    async fn addresses(&self, dev: &str) -> Result<Vec<String>, OverlayError> {
        let out = check("ip", &["-j", "-4", "addr", "show", "dev", dev], None).await?;
        let mut found = Vec::new();
        for link in json("ip addr show", &out)? {
            for a in link
                .get("addr_info")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let (Some(ip), Some(len)) = (str_of(a, "local"), a.get("prefixlen")) {
                    found.push(format!("{ip}/{len}"));
                }
            }
        }
        Ok(found)
    }

    async fn add_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError> {
        check("ip", &["addr", "add", cidr, "dev", dev], None)
            .await
            .map(drop)
    }

    async fn delete_address(&self, dev: &str, cidr: &str) -> Result<(), OverlayError> {
        check("ip", &["addr", "del", cidr, "dev", dev], None)
            .await
            .map(drop)
    }

    async fn routes(&self, dev: &str) -> Result<BTreeMap<String, Option<Ipv4Addr>>, OverlayError> {
        let out = check("ip", &["-j", "-4", "route", "show", "dev", dev], None).await?;
        Ok(json("ip route show", &out)?
            .iter()
            .filter_map(|r| Some((str_of(r, "dst")?.to_string(), ip_of(r, "gateway"))))
            .collect())
    }

    async fn replace_route(&self, dev: &str, dst: &str, via: Ipv4Addr) -> Result<(), OverlayError> {
        let via = via.to_string();
        let args = ["route", "replace", dst, "via", &via, "dev", dev, "onlink"];
        check("ip", &args, None).await.map(drop)
    }

    async fn delete_route(&self, dev: &str, dst: &str) -> Result<(), OverlayError> {
        check("ip", &["route", "del", dst, "dev", dev], None)
            .await
            .map(drop)
    }

    async fn host_routes(&self) -> Result<Vec<HostRoute>, OverlayError> {
        let out = check("ip", &["-j", "-4", "route", "show", "table", "main"], None).await?;
        Ok(host_routes_of(&json("ip route show table main", &out)?))
    }

    async fn neighbours(&self, dev: &str) -> Result<BTreeMap<Ipv4Addr, String>, OverlayError> {
        let out = check("ip", &["-j", "-4", "neigh", "show", "dev", dev], None).await?;
        Ok(json("ip neigh show", &out)?
            .iter()
            .filter_map(|n| Some((ip_of(n, "dst")?, str_of(n, "lladdr")?.to_string())))
            .collect())
    }

    async fn replace_neighbour(
        &self,
        dev: &str,
        ip: Ipv4Addr,
        mac: &str,
    ) -> Result<(), OverlayError> {
        let ip = ip.to_string();
        let args = [
            "neigh",
            "replace",
            &ip,
            "lladdr",
            mac,
            "dev",
            dev,
            "nud",
            "permanent",
        ];
        check("ip", &args, None).await.map(drop)
    }

    async fn delete_neighbour(&self, dev: &str, ip: Ipv4Addr) -> Result<(), OverlayError> {
        let ip = ip.to_string();
        check("ip", &["neigh", "del", &ip, "dev", dev], None)
            .await
            .map(drop)
    }

    async fn fdb(&self, dev: &str) -> Result<BTreeSet<(String, Ipv4Addr)>, OverlayError> {
        let out = check("bridge", &["-j", "fdb", "show", "dev", dev], None).await?;
        Ok(json("bridge fdb show", &out)?
            .iter()
            .filter_map(|e| Some((str_of(e, "mac")?.to_string(), ip_of(e, "dst")?)))
            .collect())
    }

    async fn append_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError> {
        let dst = dst.to_string();
        check(
            "bridge",
            &["fdb", "append", mac, "dev", dev, "dst", &dst],
            None,
        )
        .await
        .map(drop)
    }

    async fn delete_fdb(&self, dev: &str, mac: &str, dst: Ipv4Addr) -> Result<(), OverlayError> {
        let dst = dst.to_string();
        check(
            "bridge",
            &["fdb", "del", mac, "dev", dev, "dst", &dst],
            None,
        )
        .await
        .map(drop)
    }

    async fn chain(&self, table: &str, chain: &str) -> Result<Option<Vec<String>>, OverlayError> {
        let out = run("iptables", &["-w", "-t", table, "-S", chain], None).await?;
        // A missing chain is an error whose text differs between the
        // legacy and nft variants ("No chain", "is incompatible"): any
        // failure reads as missing; writing it then reports a real fault.
        if !out.ok {
            return Ok(None);
        }
        Ok(Some(iptables_rules_of(chain, &out.stdout)))
    }

    async fn write_chain(
        &self,
        table: &str,
        chain: &str,
        rules: &[String],
    ) -> Result<(), OverlayError> {
        // Declaring a chain in a --noflush restore creates or flushes it;
        // the rules then replace its content in one transaction.
        let mut input = format!("*{table}\n:{chain} - [0:0]\n");
        for r in rules {
            input.push_str(&format!("-A {chain} {r}\n"));
        }
        input.push_str("COMMIT\n");
        check("iptables-restore", &["-w", "--noflush"], Some(&input))
            .await
            .map(drop)
    }

    async fn has_jump(&self, table: &str, from: &str, to: &str) -> Result<bool, OverlayError> {
        let out = run("iptables", &["-w", "-t", table, "-C", from, "-j", to], None).await?;
        Ok(out.ok)
    }

    async fn insert_jump(&self, table: &str, from: &str, to: &str) -> Result<(), OverlayError> {
        if self.chain(table, from).await?.is_none() {
            // No Docker rules here (an engine without iptables): make the
            // user chain and send forwarded traffic through it.
            let made = run("iptables", &["-w", "-t", table, "-N", from], None).await?;
            if !made.ok && !made.stderr.contains("already exists") {
                return Err(OverlayError::Command {
                    command: format!("iptables -t {table} -N {from}"),
                    message: made.stderr,
                });
            }
            check(
                "iptables",
                &["-w", "-t", table, "-I", "FORWARD", "1", "-j", from],
                None,
            )
            .await?;
        }
        check(
            "iptables",
            &["-w", "-t", table, "-I", from, "1", "-j", to],
            None,
        )
        .await
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_links_are_read_from_ip_json() {
        let text = r#"[{"ifname":"vx-1","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],
            "mtu":1450,"address":"0e:c0:0a:2a:01:00",
            "linkinfo":{"info_kind":"vxlan","info_data":{"id":42,"local":"10.0.0.1","port":4789}}}]"#;
        let link = parse_link(&json("t", text).unwrap()[0]);
        assert_eq!(link.kind, "vxlan");
        assert_eq!(link.vni, Some(42));
        assert_eq!(link.local, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(link.port, Some(4789));
        assert!(link.up);
        assert_eq!(link.mtu, 1450);
    }

    #[test]
    fn host_routes_are_read_from_ip_json() {
        let text = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0","flags":[]},
            {"dst":"10.42.1.0/24","dev":"cr-933b5bde","protocol":"kernel","scope":"link",
             "prefsrc":"10.42.1.1","flags":["linkdown"]},
            {"dst":"10.9.9.9","type":"blackhole","flags":[]}]"#;
        let routes = host_routes_of(&json("t", text).unwrap());
        assert_eq!(routes.len(), 3);
        assert_eq!(routes[1].dst, "10.42.1.0/24");
        assert_eq!(routes[1].dev, "cr-933b5bde");
        assert_eq!(routes[2].dev, "");
    }

    #[test]
    fn chain_rules_drop_the_chain_prefix() {
        let text = "-N CORRAL-1\n-A CORRAL-1 -i vx -o br -j ACCEPT\n";
        assert_eq!(
            iptables_rules_of("CORRAL-1", text),
            vec!["-i vx -o br -j ACCEPT"]
        );
    }
}
