//! The metadata tree built from one environment snapshot, and the view of
//! it a caller gets (with its own `self`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use corral_netview::{EnvSnapshot, InstanceView};

use crate::fields;
use crate::node::{MapBuilder, Node, strings};

/// The version prefixes the service answers under, oldest first.
pub const VERSIONS: [&str; 4] = ["2015-07-25", "2015-12-19", "2016-07-29", "latest"];

/// The one version whose lists of a service's containers hold names
/// instead of container maps (as in Rancher).
const NAMES_ONLY_VERSION: &str = "2015-07-25";

/// The top-level keys of one version, without `self`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Top {
    containers: Arc<Node>,
    services: Arc<Node>,
    stacks: Arc<Node>,
    hosts: Arc<Node>,
}

/// What `self` is made of for one container, by index into the lists.
#[derive(Debug, Clone, Copy)]
struct SelfRefs {
    container: usize,
    service: Option<usize>,
    stack: Option<usize>,
    host: Option<usize>,
}

/// Everything the metadata service answers from, for one snapshot.
/// Immutable once built; shared as an `Arc`.
#[derive(Debug, Clone)]
pub struct MetadataTree {
    version: String,
    current: Top,
    names_only: Top,
    selves: HashMap<IpAddr, SelfRefs>,
}

impl Default for MetadataTree {
    fn default() -> Self {
        MetadataTree::from_snapshot(&EnvSnapshot::default())
    }
}

fn list(items: &[Arc<Node>]) -> Arc<Node> {
    Arc::new(Node::List(items.to_vec()))
}

/// The placed instances, in the order of their service, then their ordinal.
fn placed(snap: &EnvSnapshot) -> Vec<InstanceView<'_>> {
    let mut views: Vec<InstanceView<'_>> = snap
        .instance_views()
        .filter(|v| !v.instance.spec.node.is_empty())
        .collect();
    views.sort_by(|a, b| {
        (&a.instance.spec.service, a.instance.spec.ordinal)
            .cmp(&(&b.instance.spec.service, b.instance.spec.ordinal))
    });
    views
}

/// The services in both shapes (container maps, container names), in the
/// order of `snap.services`.
fn services(
    snap: &EnvSnapshot,
    views: &[InstanceView<'_>],
    containers: &[Arc<Node>],
) -> (Vec<Arc<Node>>, Vec<Arc<Node>>) {
    let mut by_service: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, v) in views.iter().enumerate() {
        by_service
            .entry(v.instance.spec.service.as_str())
            .or_default()
            .push(i);
    }
    let mut maps = Vec::new();
    let mut names_only = Vec::new();
    for (name, svc) in &snap.services {
        let members = by_service.get(name.as_str()).map_or(&[][..], Vec::as_slice);
        let of_maps: Vec<Arc<Node>> = members.iter().map(|&c| containers[c].clone()).collect();
        let names = strings(members.iter().map(|&c| views[c].instance.meta.name.clone()));
        let last = members
            .iter()
            .map(|&c| views[c].instance.spec.ordinal)
            .max()
            .unwrap_or(0);
        maps.push(Arc::new(fields::service(snap, svc, list(&of_maps), last)));
        names_only.push(Arc::new(fields::service(snap, svc, Arc::new(names), last)));
    }
    (maps, names_only)
}

/// The stacks, each holding its services picked from `services` (in the
/// order of `snap.services`).
fn stacks(snap: &EnvSnapshot, services: &[Arc<Node>]) -> Vec<Arc<Node>> {
    snap.stacks
        .iter()
        .map(|(name, stack)| {
            let members = snap
                .services
                .values()
                .zip(services)
                .filter(|(s, _)| &s.spec.stack == name)
                .map(|(_, node)| node.clone())
                .collect();
            Arc::new(fields::stack(snap, stack, members))
        })
        .collect()
}

/// The callers: each container's address and what its `self` is made of.
fn selves(snap: &EnvSnapshot, views: &[InstanceView<'_>]) -> HashMap<IpAddr, SelfRefs> {
    fn index<V>(map: &BTreeMap<String, V>) -> HashMap<&str, usize> {
        map.keys()
            .enumerate()
            .map(|(i, k)| (k.as_str(), i))
            .collect()
    }
    let (services, stacks, hosts) = (
        index(&snap.services),
        index(&snap.stacks),
        index(&snap.nodes),
    );
    let mut selves = HashMap::new();
    for (i, v) in views.iter().enumerate() {
        let Ok(ip) = v.instance.status.ip.parse::<IpAddr>() else {
            continue;
        };
        let refs = SelfRefs {
            container: i,
            service: services.get(v.instance.spec.service.as_str()).copied(),
            stack: stacks.get(v.stack_name).copied(),
            host: hosts.get(v.instance.spec.node.as_str()).copied(),
        };
        // Two containers claiming one address: the running one wins.
        let running = v.instance.status.state == corral_types::InstanceState::Running;
        if running || !selves.contains_key(&ip) {
            selves.insert(ip, refs);
        }
    }
    selves
}

impl MetadataTree {
    /// Builds the tree of `snap`; its `version` is the snapshot's revision.
    pub fn from_snapshot(snap: &EnvSnapshot) -> Self {
        let views = placed(snap);
        let containers: Vec<Arc<Node>> = views
            .iter()
            .map(|v| Arc::new(fields::container(snap, v)))
            .collect();
        let (services, services_v1) = services(snap, &views, &containers);
        let hosts: Vec<Arc<Node>> = snap
            .nodes
            .values()
            .map(|n| Arc::new(fields::host(n)))
            .collect();
        let hosts = list(&hosts);
        let containers = list(&containers);
        MetadataTree {
            version: snap.revision.to_string(),
            current: Top {
                containers: containers.clone(),
                services: list(&services),
                stacks: list(&stacks(snap, &services)),
                hosts: hosts.clone(),
            },
            names_only: Top {
                containers,
                services: list(&services_v1),
                stacks: list(&stacks(snap, &services_v1)),
                hosts,
            },
            selves: selves(snap, &views),
        }
    }

    /// The tree of `snap`, or `None` when it would answer exactly what
    /// `self` answers (only the version would change): long polls and
    /// confd then wake only for real changes.
    pub fn rebuild(&self, snap: &EnvSnapshot) -> Option<MetadataTree> {
        let next = MetadataTree::from_snapshot(snap);
        if next.current == self.current && next.names_only == self.names_only {
            return None;
        }
        Some(next)
    }

    /// The `version` key: the revision of the snapshot the content was
    /// last changed by.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// True when `caller` is the address of a known container.
    pub fn knows(&self, caller: IpAddr) -> bool {
        self.selves.contains_key(&caller.to_canonical())
    }

    /// The root map of version prefix `version` as seen by `caller`
    /// (`self` is present only for a known container); `None` for an
    /// unknown version.
    pub fn root(&self, version: &str, caller: Option<IpAddr>) -> Option<Node> {
        if !VERSIONS.contains(&version) {
            return None;
        }
        let top = if version == NAMES_ONLY_VERSION {
            &self.names_only
        } else {
            &self.current
        };
        let mut root = MapBuilder::new()
            .with("version", self.version.as_str())
            .with_shared("containers", top.containers.clone())
            .with_shared("services", top.services.clone())
            .with_shared("stacks", top.stacks.clone())
            .with_shared("hosts", top.hosts.clone());
        let refs = caller.and_then(|ip| self.selves.get(&ip.to_canonical()));
        if let Some(refs) = refs {
            root = root.with("self", self_map(top, refs));
        }
        Some(root.build())
    }
}

fn self_map(top: &Top, refs: &SelfRefs) -> Node {
    let at = |list: &Arc<Node>, i: Option<usize>| match (list.as_ref(), i) {
        (Node::List(items), Some(i)) => items.get(i).cloned(),
        _ => None,
    };
    let empty = || Arc::new(MapBuilder::new().build());
    let mut map = MapBuilder::new();
    for (key, list, i) in [
        ("container", &top.containers, Some(refs.container)),
        ("service", &top.services, refs.service),
        ("stack", &top.stacks, refs.stack),
        ("host", &top.hosts, refs.host),
    ] {
        map = map.with_shared(key, at(list, i).unwrap_or_else(empty));
    }
    map.build()
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
