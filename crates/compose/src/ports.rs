//! `ports:` (short `[IP:]HOST:CONTAINER[/proto]` with ranges, and long
//! syntax) and `expose:`.

use corral_types::{PortSpec, Protocol};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::value::{Kind, Node};

pub(crate) fn parse_ports(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
) -> Result<Vec<PortSpec>, ComposeError> {
    let mut out = Vec::new();
    for (i, item) in node.seq(ctx, key)?.iter().enumerate() {
        let k = index(key, i);
        match &item.kind {
            Kind::Str(s) => out.extend(short(ctx, item, &k, s)?),
            Kind::Map(_) => out.push(long(ctx, item, &k)?),
            _ => return Err(ctx.invalid(item.pos, &k, "expected a port such as \"8080:80\"")),
        }
    }
    Ok(out)
}

/// `expose: ["80", "9000-9002/udp"]`: container ports, not published.
/// Rancher also took `HOST:CONTAINER` here; the container port is exposed
/// and the host part ignored with a warning (expose never publishes).
pub(crate) fn parse_expose(
    ctx: &mut Ctx,
    node: &Node,
    key: &str,
) -> Result<Vec<PortSpec>, ComposeError> {
    let mut out = Vec::new();
    for (i, item) in node.seq(ctx, key)?.iter().enumerate() {
        let k = index(key, i);
        let s = item.str(ctx, &k)?;
        let s = match s.rsplit_once(':') {
            Some((host, container)) => {
                let msg = format!(
                    "{s:?}: the host part {host:?} is ignored: expose only opens the container \
                     port to other containers (publish with ports)"
                );
                ctx.warn(item.pos, &k, msg);
                container
            }
            None => s,
        };
        let (ports, protocol) = split_protocol(s).map_err(|m| ctx.invalid(item.pos, &k, m))?;
        let (lo, hi) = range(ports).map_err(|m| ctx.invalid(item.pos, &k, m))?;
        for container_port in lo..=hi {
            out.push(PortSpec {
                host_port: 0,
                container_port,
                protocol,
            });
        }
    }
    Ok(out)
}

fn split_protocol(s: &str) -> Result<(&str, Protocol), String> {
    match s.rsplit_once('/') {
        None => Ok((s, Protocol::Tcp)),
        Some((p, proto)) => match proto.to_ascii_lowercase().as_str() {
            "tcp" => Ok((p, Protocol::Tcp)),
            "udp" => Ok((p, Protocol::Udp)),
            other => Err(format!("protocol {other:?} is not tcp or udp")),
        },
    }
}

fn port(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{s:?} is not a port from 1 to 65535")),
    }
}

/// `80` or `8000-8002`, as an inclusive range.
fn range(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        None => port(s).map(|p| (p, p)),
        Some((a, b)) => {
            let (lo, hi) = (port(a)?, port(b)?);
            if lo > hi {
                return Err(format!("port range {s:?} runs backwards"));
            }
            Ok((lo, hi))
        }
    }
}

fn short(ctx: &mut Ctx, item: &Node, key: &str, s: &str) -> Result<Vec<PortSpec>, ComposeError> {
    let bad = |m: String| ctx.invalid(item.pos, key, m);
    let (spec, protocol) = split_protocol(s.trim()).map_err(bad)?;
    // `[::1]:8080:80`: an IPv6 host address in brackets.
    let (ip, rest) = match spec.strip_prefix('[') {
        Some(r) => match r.split_once("]:") {
            Some((ip, rest)) => (Some(ip.to_string()), rest),
            None => return Err(ctx.invalid(item.pos, key, format!("{s:?}: unclosed '['"))),
        },
        None => (None, spec),
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => (ip, None, *c),
        [h, c] => (ip, Some(*h), *c),
        [i, h, c] if ip.is_none() => (Some((*i).to_string()), Some(*h), *c),
        _ => return Err(ctx.invalid(item.pos, key, format!("{s:?} is not [IP:]HOST:CONTAINER"))),
    };
    if let Some(ip) = ip.filter(|ip| !ip.is_empty() && ip != "0.0.0.0") {
        ctx.warn(
            item.pos,
            key,
            format!("host address {ip} ignored: ports are published on every address of the node"),
        );
    }
    let (clo, chi) =
        range(container).map_err(|m| ctx.invalid(item.pos, key, format!("container port: {m}")))?;
    let (hlo, hhi) = match host.filter(|h| !h.is_empty()) {
        None => (0, 0),
        Some(h) => range(h).map_err(|m| ctx.invalid(item.pos, key, format!("host port: {m}")))?,
    };
    let count = chi - clo;
    if hlo != 0 && hhi - hlo != count {
        if count == 0 {
            ctx.warn(
                item.pos,
                key,
                format!("host port range {hlo}-{hhi} for one container port: using {hlo}"),
            );
        } else {
            let msg = format!("{s:?}: host and container port ranges differ in length");
            return Err(ctx.invalid(item.pos, key, msg));
        }
    }
    Ok((0..=count)
        .map(|i| PortSpec {
            host_port: if hlo == 0 { 0 } else { hlo + i },
            container_port: clo + i,
            protocol,
        })
        .collect())
}

fn long(ctx: &mut Ctx, item: &Node, key: &str) -> Result<PortSpec, ComposeError> {
    let mut spec = PortSpec {
        host_port: 0,
        container_port: 0,
        protocol: Protocol::Tcp,
    };
    for e in item.map(ctx, key)? {
        let k = join(key, &e.key);
        let bad = |m: String| ctx.invalid(e.value.pos, &k, m);
        match e.key.as_str() {
            "target" => spec.container_port = port(e.value.str(ctx, &k)?).map_err(bad)?,
            "published" => {
                if let Some(p) = e.value.opt_str(ctx, &k)?.filter(|p| !p.is_empty()) {
                    let (lo, hi) = range(p).map_err(bad)?;
                    if lo != hi {
                        ctx.warn(e.pos, &k, format!("host port range {lo}-{hi}: using {lo}"));
                    }
                    spec.host_port = lo;
                }
            }
            "protocol" => {
                let p = e.value.str(ctx, &k)?;
                spec.protocol = split_protocol(&format!("0/{p}")).map_err(bad)?.1;
            }
            "host_ip" => ctx.ignored(
                e.pos,
                &k,
                "ports are published on every address of the node",
            ),
            "mode" | "name" | "app_protocol" => {}
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    if spec.container_port == 0 {
        return Err(ctx.invalid(item.pos, key, "target is required"));
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse;

    fn ports(text: &str) -> (Result<Vec<PortSpec>, ComposeError>, Vec<String>) {
        let mut ctx = Ctx::new(vec!["c.yml".into()]);
        let node = parse(&mut ctx, 0, text).unwrap().unwrap();
        let r = parse_ports(&mut ctx, &node, "services.web.ports");
        (r, ctx.warnings.iter().map(|w| w.to_string()).collect())
    }

    fn p(h: u16, c: u16, udp: bool) -> PortSpec {
        PortSpec {
            host_port: h,
            container_port: c,
            protocol: if udp { Protocol::Udp } else { Protocol::Tcp },
        }
    }

    #[test]
    fn short_syntax_forms() {
        let (r, w) = ports("- \"8080:80\"\n- \"80\"\n- \"53:53/udp\"\n- \"8000-8001:90-91\"\n");
        assert_eq!(
            r.unwrap(),
            [
                p(8080, 80, false),
                p(0, 80, false),
                p(53, 53, true),
                p(8000, 90, false),
                p(8001, 91, false)
            ]
        );
        assert!(w.is_empty());
    }

    #[test]
    fn host_ip_is_warned_and_dropped() {
        let (r, w) = ports("- 127.0.0.1:8080:80\n- \"[::1]:9090:90\"\n");
        assert_eq!(r.unwrap(), [p(8080, 80, false), p(9090, 90, false)]);
        assert_eq!(w.len(), 2);
        assert!(
            w[0].starts_with("c.yml:1: services.web.ports[0]: host address 127.0.0.1 ignored"),
            "{w:?}"
        );
    }

    #[test]
    fn long_syntax() {
        let (r, _) = ports(
            "- target: 80\n  published: \"8080\"\n  protocol: udp\n  mode: host\n- target: 81\n",
        );
        assert_eq!(r.unwrap(), [p(8080, 80, true), p(0, 81, false)]);
    }

    #[test]
    fn bad_ports_name_the_item() {
        let (r, _) = ports("- \"80:80\"\n- \"x:80\"\n");
        assert_eq!(
            r.unwrap_err().to_string(),
            "c.yml:2: services.web.ports[1]: host port: \"x\" is not a port from 1 to 65535"
        );
        let (r, _) = ports("- \"80:80/sctp\"\n");
        assert!(r.is_err());
        let (r, _) = ports("- \"8000-8002:80-81\"\n");
        assert!(r.is_err());
        let (r, _) = ports("- target: 80\n  colour: red\n");
        assert_eq!(
            r.unwrap_err().to_string(),
            "c.yml:2: services.web.ports[0].colour: unknown key"
        );
    }
}
