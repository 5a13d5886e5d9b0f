//! The routing table: per source port, the rules in the order they are
//! tried, each with the backends of its target. Rebuilt from the config and
//! an environment snapshot; read lock-free by every connection.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use corral_netview::{EnvSnapshot, is_serving};
use corral_types::{LbConfig, LbProtocol, PortRule};

use crate::backend::Backend;

/// Everything a connection needs to route, for every port.
#[derive(Debug, Default)]
pub(crate) struct Table {
    ports: Vec<(u16, PortRoutes)>,
    /// The cookie name, when sessions are sticky.
    pub sticky: Option<Arc<Sticky>>,
    /// Keep the client's forwarding headers (`LbConfig::trust_forwarded_for`).
    pub trust_forwarded_for: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Sticky {
    pub cookie: String,
    /// `; Path=/; HttpOnly` and the domain, appended to `NAME=VALUE`.
    pub attributes: String,
}

#[derive(Debug)]
pub(crate) struct PortRoutes {
    pub protocol: LbProtocol,
    routes: Vec<Route>,
}

#[derive(Debug)]
struct Route {
    priority: u32,
    host: HostMatch,
    path: String,
    target: Arc<Target>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Any,
    Exact(String),
    /// `*.example.com` kept as `.example.com`.
    Suffix(String),
}

impl HostMatch {
    fn new(hostname: &str) -> Self {
        if hostname.is_empty() {
            HostMatch::Any
        } else if let Some(rest) = hostname.strip_prefix('*') {
            HostMatch::Suffix(rest.to_ascii_lowercase())
        } else {
            HostMatch::Exact(hostname.to_ascii_lowercase())
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            HostMatch::Any => true,
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Suffix(s) => {
                host.len() > s.len()
                    && host.is_char_boundary(host.len() - s.len())
                    && host[host.len() - s.len()..].eq_ignore_ascii_case(s)
            }
        }
    }

    /// Lower is more specific.
    fn rank(&self) -> (u8, usize) {
        match self {
            HostMatch::Exact(_) => (0, 0),
            HostMatch::Suffix(s) => (1, usize::MAX - s.len()),
            HostMatch::Any => (2, 0),
        }
    }
}

/// The serving backends of one (service, port), picked round robin.
#[derive(Debug, Default)]
pub(crate) struct Target {
    pub backends: Vec<Arc<Backend>>,
    next: AtomicUsize,
}

impl Target {
    /// The next backend in turn that is not retired and not in `tried`.
    pub fn pick(&self, tried: &[&Arc<Backend>]) -> Option<&Arc<Backend>> {
        let n = self.backends.len();
        if n == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|i| &self.backends[(start.wrapping_add(i)) % n])
            .find(|b| !b.is_retired() && !tried.iter().any(|t| Arc::ptr_eq(t, b)))
    }

    /// The backend a sticky cookie names, while it serves.
    pub fn by_cookie(&self, value: &str) -> Option<&Arc<Backend>> {
        self.backends
            .iter()
            .find(|b| b.cookie == value && !b.is_retired())
    }
}

impl Table {
    pub fn port(&self, port: u16) -> Option<&PortRoutes> {
        self.ports.iter().find(|(p, _)| *p == port).map(|(_, r)| r)
    }
}

impl PortRoutes {
    /// The target of the first rule matching `host` (without port) and `path`.
    pub fn route(&self, host: &str, path: &str) -> Option<&Arc<Target>> {
        self.routes
            .iter()
            .find(|r| r.host.matches(host) && path.starts_with(r.path.as_str()))
            .map(|r| &r.target)
    }

    /// For TCP and TLS: the first rule whose target has a serving backend,
    /// else the first rule.
    pub fn first_serving(&self) -> Option<&Arc<Target>> {
        self.routes
            .iter()
            .find(|r| r.target.backends.iter().any(|b| !b.is_retired()))
            .or_else(|| self.routes.first())
            .map(|r| &r.target)
    }
}

/// The backends ever handed out, by instance and address, so a rebuild
/// keeps the same `Backend` (and its pool) for an instance that still serves.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    backends: HashMap<(String, SocketAddr), Arc<Backend>>,
}

impl Registry {
    /// Retires every backend (when the load balancer stops).
    pub fn retire_all(&mut self) {
        for b in self.backends.values() {
            b.retire();
        }
        self.backends.clear();
    }
}

/// Builds the table for `config` from a snapshot. Backends that stopped
/// serving are retired: no new requests, idle connections dropped.
pub(crate) fn build(
    config: &LbConfig,
    stack: &str,
    snapshot: &EnvSnapshot,
    registry: &mut Registry,
) -> Table {
    // Serving instances by service object name: (instance name, address).
    let mut serving: HashMap<&str, Vec<(&str, IpAddr)>> = HashMap::new();
    for (name, inst) in &snapshot.instances {
        if !is_serving(inst) {
            continue;
        }
        if let Ok(ip) = inst.status.ip.parse::<IpAddr>() {
            serving
                .entry(inst.spec.service.as_str())
                .or_default()
                .push((name.as_str(), ip));
        }
    }
    let mut next = Registry::default();
    let mut targets: HashMap<(String, u16), Arc<Target>> = HashMap::new();
    let mut ports: Vec<(u16, PortRoutes)> = Vec::new();
    for rule in &config.port_rules {
        let object = target_object(rule, stack);
        let port = rule.effective_target_port();
        let target = targets
            .entry((object.clone(), port))
            .or_insert_with(|| {
                let instances = serving.get(object.as_str()).map_or(&[][..], Vec::as_slice);
                let backends = instances
                    .iter()
                    .map(|(name, ip)| {
                        let addr = SocketAddr::new(*ip, port);
                        let key = (name.to_string(), addr);
                        let b = match registry.backends.get(&key) {
                            Some(b) => b.clone(),
                            None => Arc::new(Backend::new(name, addr)),
                        };
                        next.backends.insert(key, b.clone());
                        b
                    })
                    .collect();
                Arc::new(Target {
                    backends,
                    next: AtomicUsize::new(0),
                })
            })
            .clone();
        let route = Route {
            priority: rule.priority,
            host: HostMatch::new(&rule.hostname),
            path: rule.path.clone(),
            target,
        };
        match ports.iter_mut().find(|(p, _)| *p == rule.source_port) {
            Some((_, routes)) => routes.routes.push(route),
            None => ports.push((
                rule.source_port,
                PortRoutes {
                    protocol: rule.protocol,
                    routes: vec![route],
                },
            )),
        }
    }
    for (_, routes) in &mut ports {
        routes.routes.sort_by(|a, b| {
            (a.priority, a.host.rank(), usize::MAX - a.path.len()).cmp(&(
                b.priority,
                b.host.rank(),
                usize::MAX - b.path.len(),
            ))
        });
    }
    for (key, b) in &registry.backends {
        if !next.backends.contains_key(key) {
            b.retire();
        }
    }
    *registry = next;
    Table {
        ports,
        sticky: config.stickiness.as_ref().map(|s| {
            Arc::new(Sticky {
                cookie: s.cookie.clone(),
                attributes: if s.domain.is_empty() {
                    "; Path=/; HttpOnly".to_string()
                } else {
                    format!("; Path=/; Domain={}; HttpOnly", s.domain)
                },
            })
        }),
        trust_forwarded_for: config.trust_forwarded_for,
    }
}

/// The object name of a rule's target service: `<stack>-<service>`, or the
/// service's own name outside stacks.
fn target_object(rule: &PortRule, own_stack: &str) -> String {
    let (stack, service) = rule.target(own_stack);
    if stack.is_empty() {
        service.to_string()
    } else {
        format!("{stack}-{service}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{Instance, InstanceState, Kind, Object};

    fn instance(name: &str, service: &str, ip: &str) -> Instance {
        let mut i: Instance = Object::new(Kind::Instance, "default", name, Default::default());
        i.spec.service = service.into();
        i.status.state = InstanceState::Running;
        i.status.ip = ip.into();
        i
    }

    fn rule(host: &str, path: &str, priority: u32, target: &str) -> PortRule {
        PortRule {
            source_port: 80,
            hostname: host.into(),
            path: path.into(),
            priority,
            target_service: target.into(),
            target_port: 8080,
            ..Default::default()
        }
    }

    fn snapshot(instances: &[Instance]) -> EnvSnapshot {
        EnvSnapshot {
            instances: instances
                .iter()
                .map(|i| (i.meta.name.clone(), i.clone()))
                .collect(),
            ..Default::default()
        }
    }

    fn routed(table: &Table, host: &str, path: &str) -> String {
        table
            .port(80)
            .and_then(|p| p.route(host, path))
            .and_then(|t| t.backends.first())
            .map(|b| b.instance.clone())
            .unwrap_or_default()
    }

    #[test]
    fn rules_match_by_priority_then_the_most_specific_host_and_longest_path() {
        let config = LbConfig {
            port_rules: vec![
                rule("", "", 0, "default"),
                rule("*.example.com", "", 0, "wild"),
                rule("api.example.com", "", 0, "exact"),
                rule("api.example.com", "/v2", 0, "v2"),
                rule("", "/admin", 1, "admin"),
                rule("first.example.com", "", 0, "ignored"),
                rule("first.example.com", "", 0, "x"),
            ],
            ..Default::default()
        };
        let snap = snapshot(&[
            instance("s-default-1", "s-default", "10.0.0.1"),
            instance("s-wild-1", "s-wild", "10.0.0.2"),
            instance("s-exact-1", "s-exact", "10.0.0.3"),
            instance("s-v2-1", "s-v2", "10.0.0.4"),
            instance("s-admin-1", "s-admin", "10.0.0.5"),
        ]);
        let table = build(&config, "s", &snap, &mut Registry::default());
        assert_eq!(routed(&table, "API.example.com", "/v2/x"), "s-v2-1");
        assert_eq!(routed(&table, "api.example.com", "/v1"), "s-exact-1");
        assert_eq!(routed(&table, "www.example.com", "/"), "s-wild-1");
        assert_eq!(routed(&table, "example.com", "/"), "s-default-1");
        // Priority 1 comes after every priority-0 rule, the default included.
        assert_eq!(routed(&table, "other.org", "/admin"), "s-default-1");
    }

    #[test]
    fn a_rebuild_keeps_serving_backends_and_retires_the_others() {
        let config = LbConfig {
            port_rules: vec![rule("", "", 0, "shop/web")],
            ..Default::default()
        };
        let mut registry = Registry::default();
        let a = instance("shop-web-1", "shop-web", "10.0.0.1");
        let b = instance("shop-web-2", "shop-web", "10.0.0.2");
        let t1 = build(
            &config,
            "other",
            &snapshot(&[a.clone(), b.clone()]),
            &mut registry,
        );
        let backends = &t1.port(80).and_then(|p| p.route("", "/")).unwrap().backends;
        assert_eq!(backends.len(), 2);
        assert_eq!(backends[0].addr, "10.0.0.1:8080".parse().unwrap());
        let mut removing = b.clone();
        removing.spec.removing = true;
        let t2 = build(&config, "other", &snapshot(&[a, removing]), &mut registry);
        let kept = &t2.port(80).and_then(|p| p.route("", "/")).unwrap().backends;
        assert_eq!(kept.len(), 1);
        assert!(
            Arc::ptr_eq(&kept[0], &backends[0]),
            "the same backend, pool kept"
        );
        assert!(backends[1].is_retired());
        assert!(!backends[0].is_retired());
    }

    #[test]
    fn round_robin_skips_retired_and_tried_backends() {
        let t = Target {
            backends: (1..=3)
                .map(|i| Arc::new(Backend::new(&format!("w-{i}"), ([10, 0, 0, i], 80).into())))
                .collect(),
            next: AtomicUsize::new(0),
        };
        t.backends[1].retire();
        let picks: Vec<String> = (0..4)
            .map(|_| t.pick(&[]).unwrap().instance.clone())
            .collect();
        assert!(!picks.contains(&"w-2".to_string()), "{picks:?}");
        let first = t.pick(&[]).unwrap().clone();
        let other = t.pick(&[&first]).unwrap();
        assert!(!Arc::ptr_eq(&first, other));
        assert!(t.pick(&[&t.backends[0], &t.backends[2]]).is_none());
        assert_eq!(
            t.by_cookie(&t.backends[0].cookie)
                .map(|b| b.instance.as_str()),
            Some("w-1")
        );
        assert!(t.by_cookie(&t.backends[1].cookie).is_none(), "retired");
    }
}
