//! Rancher 1.0–1.5 load balancers: a service running
//! `rancher/load-balancer-service`, its listeners in `ports`/`expose`
//! (`80:8080` listens on 80 and sends to port 8080), its targets in
//! `links`/`external_links`, `io.rancher.loadbalancer.*` labels, and
//! `load_balancer_config` in rancher-compose.yml. Translated to the port
//! rules of Corral's balancer ([`corral_types::LbConfig`]), with a warning
//! for what Corral does not honour.

use corral_types::{LbConfig, LbProtocol, PortRule, Stickiness};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::lb::LbSource;
use crate::service::Raw;
use crate::value::{Entry, Kind, Node, Pos};

/// The Rancher 1.0–1.5 balancer image.
pub(crate) const LEGACY_LB_IMAGE: &str = "rancher/load-balancer-service";
const LABEL_PREFIX: &str = "io.rancher.loadbalancer.";
const TARGET_PREFIX: &str = "io.rancher.loadbalancer.target.";

/// What a legacy balancer service says, as read, before translation.
#[derive(Default)]
pub(crate) struct Legacy {
    /// Listeners as written: (text, where, key, published).
    pub ports: Vec<(String, Pos, String, bool)>,
    /// `external_links` targets (`stack/service[:alias]`), with where.
    pub external: Vec<(String, Pos, String)>,
    /// `lb_cookie_stickiness_policy` of `load_balancer_config`.
    pub stickiness: Option<Stickiness>,
    /// rancher-compose `certs` / `default_cert` of the service.
    pub certs: Vec<String>,
    pub default_cert: String,
}

/// True for `rancher/load-balancer-service`, with a tag or a registry.
pub(crate) fn is_image(image: &str) -> bool {
    let name = image.split(':').next().unwrap_or(image);
    name == LEGACY_LB_IMAGE || name.ends_with(&format!("/{LEGACY_LB_IMAGE}"))
}

/// An empty [`Legacy`] for a service whose `image` is the legacy balancer.
pub(crate) fn for_service(service: &Node) -> Option<Legacy> {
    let image = service.get("image").and_then(|e| match &e.value.kind {
        Kind::Str(s) => Some(s.as_str()),
        _ => None,
    });
    image.is_some_and(is_image).then(Legacy::default)
}

/// `ports`, `expose` and `external_links` of a legacy balancer, kept as
/// written: their meaning differs from a container's.
pub(crate) fn read_key(
    ctx: &mut Ctx,
    legacy: &mut Legacy,
    e: &Entry,
    key: &str,
) -> Result<(), ComposeError> {
    for (i, item) in e.value.seq(ctx, key)?.iter().enumerate() {
        let k = index(key, i);
        let text = match &item.kind {
            Kind::Str(s) => s.trim().to_string(),
            _ => return Err(ctx.invalid(item.pos, &k, "expected a port such as \"80:8080\"")),
        };
        match e.key.as_str() {
            "external_links" => legacy.external.push((text, item.pos, k)),
            published => legacy.ports.push((text, item.pos, k, published == "ports")),
        }
    }
    Ok(())
}

/// rancher-compose `load_balancer_config` of a legacy balancer.
pub(crate) fn config(
    ctx: &mut Ctx,
    legacy: &mut Legacy,
    v: &Node,
    key: &str,
) -> Result<(), ComposeError> {
    if v.is_null() {
        return Ok(());
    }
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        match e.key.as_str() {
            "haproxy_config" => haproxy_config(ctx, &e.value, &k)?,
            "lb_cookie_stickiness_policy" if !e.value.is_null() => {
                legacy.stickiness = Some(cookie_policy(ctx, &e.value, &k)?);
            }
            "app_cookie_stickiness_policy" if !e.value.is_null() => ctx.ignored(
                e.pos,
                &k,
                "stickiness follows a cookie the balancer inserts (use lb_cookie_stickiness_policy)",
            ),
            "name" | "description" | "lb_cookie_stickiness_policy"
            | "app_cookie_stickiness_policy" => {}
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(())
}

/// Custom HAProxy text cannot be honoured: Corral's balancer is not HAProxy.
fn haproxy_config(ctx: &mut Ctx, v: &Node, key: &str) -> Result<(), ComposeError> {
    if v.is_null() {
        return Ok(());
    }
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let text = e.value.opt_str(ctx, &k)?.unwrap_or_default();
        if !text.trim().is_empty() {
            ctx.ignored(
                e.pos,
                &k,
                "custom haproxy configuration: corral's balancer is not HAProxy",
            );
        }
    }
    Ok(())
}

fn cookie_policy(ctx: &mut Ctx, v: &Node, key: &str) -> Result<Stickiness, ComposeError> {
    let mut s = Stickiness::default();
    for e in v.map(ctx, key)? {
        let k = join(key, &e.key);
        let text = e.value.opt_str(ctx, &k)?.unwrap_or_default();
        match e.key.as_str() {
            "cookie" if !text.is_empty() => s.cookie = text.to_string(),
            "domain" => s.domain = text.to_string(),
            "mode" if !text.is_empty() && text != "insert" => {
                let msg = format!("mode {text:?}: the cookie is always inserted by the balancer");
                ctx.ignored(e.pos, &k, &msg);
            }
            "cookie" | "mode" | "name" | "indirect" | "nocache" | "postonly" => {}
            x if x.starts_with("x-") => {}
            _ => return Err(ctx.unknown(e.pos, &k)),
        }
    }
    Ok(s)
}

/// One listener: `[IP:]SOURCE[:TARGET][/PROTOCOL]`.
struct Listener {
    source: u16,
    target: u16,
    protocol: LbProtocol,
    pos: Pos,
    key: String,
}

fn listener(ctx: &mut Ctx, text: &str, pos: Pos, key: &str) -> Result<Listener, ComposeError> {
    let bad = |ctx: &Ctx, m: String| ctx.invalid(pos, key, m);
    let (spec, proto) = text.rsplit_once('/').unwrap_or((text, "http"));
    let protocol = match proto.to_ascii_lowercase().as_str() {
        "http" => LbProtocol::Http,
        "tcp" => LbProtocol::Tcp,
        "https" => LbProtocol::Https,
        "tls" | "ssl" => LbProtocol::Tls,
        "udp" => {
            let msg = format!("{text:?}: udp load balancing is not supported");
            return Err(ctx.unsupported(pos, key, msg));
        }
        other => return Err(bad(ctx, format!("{text:?}: unknown protocol {other:?}"))),
    };
    let parts: Vec<&str> = spec.split(':').collect();
    let (ip, source, target) = match parts.as_slice() {
        [s] => (None, *s, *s),
        [s, t] => (None, *s, *t),
        [ip, s, t] => (Some(*ip), *s, *t),
        _ => return Err(bad(ctx, format!("{text:?} is not [IP:]PORT[:TARGET_PORT]"))),
    };
    if let Some(ip) = ip.filter(|ip| !ip.is_empty() && *ip != "0.0.0.0") {
        let msg = format!("host address {ip} ignored: the balancer listens on every address");
        ctx.warn(pos, key, msg);
    }
    let port = |p: &str| match p.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?}: {p:?} is not a port from 1 to 65535")),
    };
    Ok(Listener {
        source: port(source).map_err(|m| bad(ctx, m))?,
        target: port(target).map_err(|m| bad(ctx, m))?,
        protocol,
        pos,
        key: key.to_string(),
    })
}

/// One item of `io.rancher.loadbalancer.target.SERVICE`:
/// `[HOST][:SOURCE_PORT][/PATH][=TARGET_PORT]`, as (host, source, path, target).
fn target_item(item: &str) -> Result<(String, Option<u16>, String, Option<u16>), String> {
    let port = |p: &str| match p.trim().parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{item:?}: {p:?} is not a port from 1 to 65535")),
    };
    let (left, target) = match item.rsplit_once('=') {
        Some((l, t)) => (l, Some(port(t)?)),
        None => (item, None),
    };
    let (hostport, path) = match left.find('/') {
        Some(i) => (&left[..i], left[i..].to_string()),
        None => (left, String::new()),
    };
    let (host, source) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), Some(port(p)?)),
        None if !hostport.is_empty() && hostport.bytes().all(|b| b.is_ascii_digit()) => {
            (String::new(), Some(port(hostport)?))
        }
        None => (hostport.to_string(), None),
    };
    Ok((host, source, path, target))
}

/// The balancer's labels (taken out of the container labels): target
/// labels by service, the ssl and proxy-protocol port lists.
struct Labels {
    targets: Vec<(String, String, Pos, String)>,
    ssl: Vec<u16>,
}

fn labels(ctx: &mut Ctx, raw: &mut Raw) -> Result<Labels, ComposeError> {
    let mut out = Labels {
        targets: Vec::new(),
        ssl: Vec::new(),
    };
    let names: Vec<String> = raw
        .spec
        .container_labels
        .keys()
        .filter(|k| k.starts_with(LABEL_PREFIX))
        .cloned()
        .collect();
    for label in names {
        let value = raw.spec.container_labels.remove(&label).unwrap_or_default();
        let pos = raw.label_pos.get(&label).copied().unwrap_or(raw.pos);
        let key = format!("services.{}.labels.{label}", raw.name);
        match label.trim_start_matches(LABEL_PREFIX) {
            "ssl.ports" => {
                for p in split(&value) {
                    let n = p.parse::<u16>().ok().filter(|n| *n > 0);
                    let n = n.ok_or_else(|| ctx.invalid(pos, &key, format!("{p:?} is not a port")))?;
                    out.ssl.push(n);
                }
            }
            "proxy-protocol.ports" => ctx.ignored(
                pos,
                &key,
                "the PROXY protocol is not sent to targets: they see the client in X-Forwarded-For on http ports",
            ),
            _ if label
                .strip_prefix(TARGET_PREFIX)
                .is_some_and(|s| !s.is_empty()) =>
            {
                let service = label.trim_start_matches(TARGET_PREFIX).to_string();
                out.targets.push((service, value, pos, key));
            }
            _ => ctx.ignored(pos, &key, "not a label of corral's balancer"),
        }
    }
    Ok(out)
}

fn split(s: &str) -> Vec<&str> {
    s.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Turns a legacy balancer into Corral's: port rules from its listeners,
/// links and labels. Runs before [`crate::lb::prepare`].
pub(crate) fn translate(ctx: &mut Ctx, raw: &mut Raw) -> Result<(), ComposeError> {
    let Some(legacy) = raw.legacy_lb.take() else {
        return Ok(());
    };
    let path = format!("services.{}", raw.name);
    if raw.spec.lb.is_some() {
        // Rancher 1.6 catalogs kept the old image name with a 1.6
        // lb_config (drone's): the lb_config's rules are the balancer's.
        let msg = "lb_config given: its port rules are used, not the 1.0-1.5 form of ports, links and labels";
        ctx.warn(raw.pos, &join(&path, "image"), msg);
        return Ok(());
    }
    let labels = labels(ctx, raw)?;
    let listeners = listeners(ctx, &legacy.ports, &labels.ssl)?;
    if listeners.is_empty() {
        let msg = "a rancher/load-balancer-service needs ports (or expose) to listen on";
        return Err(ctx.invalid(raw.pos, &join(&path, "ports"), msg));
    }
    let mut targets: Vec<(String, Pos, String)> = Vec::new();
    for (i, l) in raw.spec.links.iter().enumerate() {
        let key = index(&join(&path, "links"), i);
        targets.push((l.service.clone(), raw.pos, key));
    }
    for (text, pos, key) in &legacy.external {
        let service = text.split(':').next().unwrap_or(text).to_string();
        targets.push((service, *pos, key.clone()));
    }
    raw.spec.links.clear();
    let (port_rules, rules) = port_rules(ctx, &listeners, &labels, &targets)?;
    raw.spec.ports.clear();
    raw.spec.lb = Some(LbConfig {
        port_rules,
        certificates: legacy.certs,
        default_certificate: legacy.default_cert,
        stickiness: legacy.stickiness,
        ..LbConfig::default()
    });
    raw.lb_source = Some(LbSource {
        pos: raw.pos,
        key: path,
        rules,
        rancher: false,
    });
    Ok(())
}

/// The listeners, an ssl port made https (or tls for tcp); an exposed one
/// is warned about, since Corral's balancer publishes every port.
fn listeners(
    ctx: &mut Ctx,
    ports: &[(String, Pos, String, bool)],
    ssl: &[u16],
) -> Result<Vec<Listener>, ComposeError> {
    let mut out = Vec::new();
    for (text, pos, key, published) in ports {
        let mut l = listener(ctx, text, *pos, key)?;
        if ssl.contains(&l.source) {
            l.protocol = match l.protocol {
                LbProtocol::Tcp | LbProtocol::Tls => LbProtocol::Tls,
                _ => LbProtocol::Https,
            };
        }
        if !published {
            let msg = format!(
                "{text:?}: corral's balancer publishes port {} on the nodes it runs on",
                l.source
            );
            ctx.warn(*pos, key, msg);
        }
        out.push(l);
    }
    Ok(out)
}

/// Where each rule came from, for messages: (place, key).
type RuleSources = Vec<(Pos, String)>;

/// A target with a label gets the label's rules; the others one rule per
/// listener, to the listener's target port.
fn port_rules(
    ctx: &Ctx,
    listeners: &[Listener],
    labels: &Labels,
    targets: &[(String, Pos, String)],
) -> Result<(Vec<PortRule>, RuleSources), ComposeError> {
    let mut out = Vec::new();
    let mut sources = Vec::new();
    for (service, value, pos, key) in &labels.targets {
        let service = resolve(service, targets);
        for item in split(value) {
            let (host, source, path, target) =
                target_item(item).map_err(|m| ctx.invalid(*pos, key, m))?;
            let on: Vec<&Listener> = listeners
                .iter()
                .filter(|l| source.is_none_or(|s| s == l.source))
                .collect();
            if on.is_empty() {
                let msg = format!("{item:?}: the balancer does not listen on that port");
                return Err(ctx.invalid(*pos, key, msg));
            }
            for l in on {
                out.push(PortRule {
                    source_port: l.source,
                    protocol: l.protocol,
                    hostname: host.clone(),
                    path: path.clone(),
                    target_service: service.clone(),
                    target_port: target.unwrap_or(l.target),
                    ..PortRule::default()
                });
                sources.push((*pos, key.clone()));
            }
        }
    }
    for (service, _, _) in targets {
        let labelled = labels
            .targets
            .iter()
            .any(|(s, ..)| &resolve(s, targets) == service);
        if labelled {
            continue;
        }
        for l in listeners {
            out.push(PortRule {
                source_port: l.source,
                protocol: l.protocol,
                target_service: service.clone(),
                target_port: l.target,
                ..PortRule::default()
            });
            sources.push((l.pos, l.key.clone()));
        }
    }
    Ok((out, sources))
}

/// A target label names a service as linked (`registry`) or, for another
/// stack, as in `external_links` (`stack/service`); the name the rule needs.
fn resolve(service: &str, targets: &[(String, Pos, String)]) -> String {
    targets
        .iter()
        .map(|(t, ..)| t)
        .find(|t| t.eq_ignore_ascii_case(service) || t.rsplit('/').next() == Some(service))
        .cloned()
        .unwrap_or_else(|| service.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_label_items_read_host_source_path_and_target() {
        let t = |s: &str| target_item(s).unwrap();
        assert_eq!(
            t("example.com:80/api=8080"),
            ("example.com".into(), Some(80), "/api".into(), Some(8080))
        );
        assert_eq!(
            t("5000=5000"),
            (String::new(), Some(5000), String::new(), Some(5000))
        );
        assert_eq!(
            t("example.com=81"),
            ("example.com".into(), None, String::new(), Some(81))
        );
        assert_eq!(t("/static"), (String::new(), None, "/static".into(), None));
        assert!(target_item("a.com:http=80").is_err());
        assert!(target_item("=0").is_err());
    }

    #[test]
    fn the_legacy_image_is_recognised_with_a_tag_or_registry() {
        assert!(is_image("rancher/load-balancer-service"));
        assert!(is_image("docker.io/rancher/load-balancer-service:v0.1"));
        assert!(!is_image("rancher/lb-service-haproxy"));
    }
}
