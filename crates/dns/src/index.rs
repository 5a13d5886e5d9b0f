//! The name index: every internal name of one environment snapshot and the
//! addresses it answers with, built off the query path and read without
//! locks or allocation by [`Index::resolve`].
//!
//! Precedence for a query from a client instance (first match wins):
//! 1. `rancher-metadata`, `metadata` (and their `.corral.internal` forms);
//! 2. the links of the client's service (`links: [db:database]`);
//! 3. names scoped to the client's stack: services, `SIDEKICK.SERVICE`,
//!    bare sidekick names, then compose network aliases;
//! 4. names valid from anywhere: `SERVICE.STACK`, `SERVICE.STACK.corral.internal`,
//!    `SERVICE.STACK.ENV.corral.internal`, the same with a sidekick in front,
//!    and instance names (`shop-web-1`, `shop-web-1.corral.internal`).
//!
//! A name that is known but has no serving instance answers NXDOMAIN, like
//! an unknown internal name.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use corral_netview::{EnvSnapshot, InstanceView, is_serving};
use corral_types::{Instance, InstanceState, ServiceSpec};

/// The suffix of every fully qualified internal name.
pub const INTERNAL_SUFFIX: &str = "corral.internal";

/// The address `rancher-metadata` and `metadata` answer with.
pub const METADATA_ADDRESS: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 250);

const METADATA_NAMES: [&str; 4] = [
    "rancher-metadata",
    "metadata",
    "rancher-metadata.corral.internal",
    "metadata.corral.internal",
];

/// The answer of the metadata names.
static METADATA_ANSWER: [IpAddr; 1] = [IpAddr::V4(METADATA_ADDRESS)];

/// The longest name [`Index::resolve`] looks at (a DNS name is at most 253
/// characters in text form); longer names are never internal keys.
const MAX_NAME: usize = 255;

/// What a query for a name gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// An internal name with these serving addresses (never empty), in
    /// index order: the response shuffles them.
    Addresses(&'a [IpAddr]),
    /// An internal name that is unknown or has no serving instance.
    NxDomain,
    /// Not an internal name: ask the upstream resolvers.
    Forward,
}

/// Where a name points: an index into [`Index::targets`].
type Target = usize;

/// Names to targets.
type Names = HashMap<Box<str>, Target>;

/// What a client (a container of the environment) sees by short names.
#[derive(Debug, Clone, Copy)]
struct Client {
    /// Its stack's scope in [`Index::scopes`].
    scope: usize,
    /// Its service's links in [`Index::links`], if it has any.
    links: Option<usize>,
}

/// The index of one snapshot. Immutable once built; share it in an `Arc`.
#[derive(Debug, Default)]
pub struct Index {
    revision: u64,
    /// Address lists; an empty one is a name without serving instance.
    targets: Vec<Box<[IpAddr]>>,
    /// Names valid from anywhere.
    global: Names,
    /// Names scoped to one stack; scope 0 is the standalone services'.
    scopes: Vec<Names>,
    scope_of_stack: HashMap<Box<str>, usize>,
    /// Link tables (alias to target), one per linking service.
    links: Vec<Names>,
    clients: HashMap<IpAddr, Client>,
}

/// The services of one snapshot while the index is built.
struct ServiceEntry<'a> {
    short: String,
    stack: String,
    spec: &'a ServiceSpec,
    addrs: Vec<IpAddr>,
}

impl Index {
    /// Builds the index of `snapshot`, naming the environment as the
    /// snapshot does.
    pub fn build(snapshot: &EnvSnapshot) -> Index {
        Index::build_for(snapshot, &snapshot.environment)
    }

    /// Builds the index of `snapshot` with `environment` as the `ENV` label
    /// of `SERVICE.STACK.ENV.corral.internal`.
    pub fn build_for(snapshot: &EnvSnapshot, environment: &str) -> Index {
        let env = environment.to_ascii_lowercase();
        let mut index = Index {
            revision: snapshot.revision,
            scopes: vec![HashMap::new()],
            ..Index::default()
        };
        for stack in snapshot.stacks.keys() {
            index.scope_for(stack);
        }
        let services = collect_services(snapshot);
        let mut targets: Vec<Target> = Vec::with_capacity(services.len());
        for (_, entry) in &services {
            let target = index.push_target(&entry.addrs);
            targets.push(target);
            index.add_service_names(entry, &env, target);
        }
        // Bare sidekick names (the service names of the compose file) and
        // aliases come after every service name of their stack, so a
        // service name is never shadowed by them.
        for ((_, entry), &target) in services.iter().zip(&targets) {
            let scope = index.scope_for(&entry.stack);
            for sidekick in &entry.spec.sidekicks {
                index.insert_scoped(scope, sidekick.name.to_ascii_lowercase(), target);
            }
            for network in &entry.spec.networks {
                for alias in &network.aliases {
                    index.insert_scoped(scope, alias.to_ascii_lowercase(), target);
                }
            }
        }
        let mut link_tables: HashMap<&str, usize> = HashMap::new();
        for (object_name, entry) in &services {
            if let Some(table) = index.link_table(entry, &services, &targets) {
                link_tables.insert(object_name.as_str(), table);
            }
        }
        index.add_instances_and_clients(snapshot, &link_tables);
        index
    }

    /// The snapshot revision this index was built from.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// What a query for `qname` (any case, with or without the trailing
    /// dot) from `client` gets. Allocation-free.
    pub fn resolve(&self, qname: &str, client: IpAddr) -> Answer<'_> {
        let trimmed = qname.strip_suffix('.').unwrap_or(qname);
        let client = self.clients.get(&canonical_ip(client));
        // A client the index does not know (not a container of the
        // environment) sees the standalone services by short names.
        let scope = self.scopes.get(client.map_or(0, |c| c.scope));
        let mut buf = [0u8; MAX_NAME];
        let Some(name) = lowercase_into(trimmed, &mut buf) else {
            let long = trimmed.to_ascii_lowercase();
            return match self.is_internal_shape(&long, scope) {
                true => Answer::NxDomain,
                false => Answer::Forward,
            };
        };
        if METADATA_NAMES.contains(&name) {
            return Answer::Addresses(&METADATA_ANSWER);
        }
        match self.lookup(name, client, scope) {
            Some(target) => match self.targets.get(target) {
                Some(addrs) if !addrs.is_empty() => Answer::Addresses(addrs),
                _ => Answer::NxDomain,
            },
            None if self.is_internal_shape(name, scope) => Answer::NxDomain,
            None => Answer::Forward,
        }
    }

    /// True when `stack` (lowercase) is a stack of the environment.
    pub fn has_stack(&self, stack: &str) -> bool {
        self.scope_of_stack.contains_key(stack)
    }

    fn lookup(&self, name: &str, client: Option<&Client>, scope: Option<&Names>) -> Option<Target> {
        if let Some(table) = client.and_then(|c| c.links).and_then(|l| self.links.get(l))
            && let Some(&target) = table.get(name)
        {
            return Some(target);
        }
        if let Some(&target) = scope.and_then(|s| s.get(name)) {
            return Some(target);
        }
        self.global.get(name).copied()
    }

    /// True when a name that matched no rule is still internal (and so
    /// gets NXDOMAIN rather than being forwarded): a single label, a name
    /// under `corral.internal`, or a name whose last label is a stack or a
    /// name of the client's stack (`nope.web`).
    fn is_internal_shape(&self, name: &str, scope: Option<&Names>) -> bool {
        if name.is_empty() {
            return false;
        }
        if name == INTERNAL_SUFFIX || name.ends_with(".corral.internal") {
            return true;
        }
        match name.rsplit_once('.') {
            None => true,
            Some((_, last)) => self.has_stack(last) || scope.is_some_and(|s| s.contains_key(last)),
        }
    }

    fn push_target(&mut self, addrs: &[IpAddr]) -> Target {
        self.targets.push(addrs.into());
        self.targets.len() - 1
    }

    fn scope_for(&mut self, stack: &str) -> usize {
        if stack.is_empty() {
            return 0;
        }
        let key = stack.to_ascii_lowercase();
        if let Some(&scope) = self.scope_of_stack.get(key.as_str()) {
            return scope;
        }
        self.scopes.push(HashMap::new());
        let scope = self.scopes.len() - 1;
        self.scope_of_stack.insert(key.into(), scope);
        scope
    }

    fn insert_scoped(&mut self, scope: usize, name: String, target: Target) {
        if let Some(names) = self.scopes.get_mut(scope) {
            names.entry(name.into()).or_insert(target);
        }
    }

    fn insert_global(&mut self, name: String, target: Target) {
        self.global.entry(name.into()).or_insert(target);
    }

    /// The names of one service and of its sidekicks.
    fn add_service_names(&mut self, entry: &ServiceEntry<'_>, env: &str, target: Target) {
        let scope = self.scope_for(&entry.stack);
        let short = entry.short.to_ascii_lowercase();
        let stack = entry.stack.to_ascii_lowercase();
        let mut within = vec![short.clone()];
        for sidekick in &entry.spec.sidekicks {
            within.push(format!("{}.{short}", sidekick.name.to_ascii_lowercase()));
        }
        for name in &within {
            self.insert_scoped(scope, name.clone(), target);
            let qualified = if stack.is_empty() {
                name.clone()
            } else {
                format!("{name}.{stack}")
            };
            self.insert_global(format!("{qualified}.{INTERNAL_SUFFIX}"), target);
            if !env.is_empty() {
                self.insert_global(format!("{qualified}.{env}.{INTERNAL_SUFFIX}"), target);
            }
            if !stack.is_empty() {
                self.insert_global(qualified, target);
            }
        }
    }

    fn link_table(
        &mut self,
        entry: &ServiceEntry<'_>,
        services: &[(String, ServiceEntry<'_>)],
        targets: &[Target],
    ) -> Option<usize> {
        if entry.spec.links.is_empty() {
            return None;
        }
        let mut table = HashMap::new();
        for link in &entry.spec.links {
            let linked = services
                .iter()
                .position(|(_, s)| s.stack == entry.stack && s.short == link.service)
                .and_then(|i| targets.get(i).copied());
            // A link to a service that has no instance yet still makes the
            // alias internal (NXDOMAIN until it runs).
            let target = match linked {
                Some(target) => target,
                None => self.push_target(&[]),
            };
            table.insert(link.alias.to_ascii_lowercase().into(), target);
        }
        self.links.push(table);
        Some(self.links.len() - 1)
    }

    fn add_instances_and_clients(&mut self, snapshot: &EnvSnapshot, links: &HashMap<&str, usize>) {
        let mut best: HashMap<IpAddr, &Instance> = HashMap::new();
        for view in snapshot.instance_views() {
            let inst = view.instance;
            let Some(ip) = parse_ip(&inst.status.ip) else {
                continue;
            };
            let name = inst.meta.name.to_ascii_lowercase();
            let target = if is_serving(inst) {
                self.push_target(&[ip])
            } else {
                self.push_target(&[])
            };
            self.insert_global(format!("{name}.{INTERNAL_SUFFIX}"), target);
            self.insert_global(name, target);
            // Two instances may briefly report the same address (a stale
            // status): the running one is the client.
            let replace = best.get(&ip).is_none_or(|old| {
                old.status.state != InstanceState::Running
                    && inst.status.state == InstanceState::Running
            });
            if replace {
                best.insert(ip, inst);
            }
        }
        for (ip, inst) in best {
            let scope = self.scope_for(&inst.spec.launch.stack);
            let links = links.get(inst.spec.service.as_str()).copied();
            self.clients.insert(ip, Client { scope, links });
        }
    }
}

/// The services of a snapshot, by object name, with their serving
/// addresses. Services known only through their instances are included.
fn collect_services(snapshot: &EnvSnapshot) -> Vec<(String, ServiceEntry<'_>)> {
    let mut by_name: HashMap<&str, ServiceEntry<'_>> = HashMap::new();
    for (name, service) in &snapshot.services {
        by_name.insert(
            name.as_str(),
            ServiceEntry {
                short: corral_netview::service_short_name(service).to_string(),
                stack: service.spec.stack.clone(),
                spec: &service.spec,
                addrs: Vec::new(),
            },
        );
    }
    for view in snapshot.instance_views() {
        let entry = by_name
            .entry(view.instance.spec.service.as_str())
            .or_insert_with(|| entry_from_instance(&view));
        if is_serving(view.instance)
            && let Some(ip) = parse_ip(&view.instance.status.ip)
        {
            entry.addrs.push(ip);
        }
    }
    let mut out: Vec<(String, ServiceEntry<'_>)> = by_name
        .into_iter()
        .map(|(name, entry)| (name.to_string(), entry))
        .collect();
    // Deterministic precedence when two names collide.
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn entry_from_instance<'a>(view: &InstanceView<'a>) -> ServiceEntry<'a> {
    ServiceEntry {
        short: view.service_name.to_string(),
        stack: view.stack_name.to_string(),
        spec: &view.instance.spec.launch,
        addrs: Vec::new(),
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>().ok().map(canonical_ip)
}

/// An IPv4-mapped IPv6 address (from a dual-stack socket) as IPv4.
pub(crate) fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// `name` in lowercase in `buf`, or `None` when it does not fit.
fn lowercase_into<'b>(name: &str, buf: &'b mut [u8; MAX_NAME]) -> Option<&'b str> {
    let bytes = name.as_bytes();
    let out = buf.get_mut(..bytes.len())?;
    out.copy_from_slice(bytes);
    out.make_ascii_lowercase();
    // Lowercasing ASCII letters keeps UTF-8 valid.
    std::str::from_utf8(out).ok()
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
