//! Node liveness: heartbeats are kept in memory (a write per heartbeat would
//! cost the store thousands of writes a second at scale); only state changes
//! are written.
//!
//! The heartbeat interval grows with the number of nodes so that the server
//! takes at most [`MAX_HEARTBEATS_PER_S`] (as Nomad does, whose default is
//! 50/s): 1 s up to 250 nodes (the server's default base), 4 s at 1,000,
//! 20 s at 5,000. The time after which a silent node counts as
//! disconnected is the configured node timeout (5 s by default), growing
//! with the interval (at least three missed heartbeats): a busy server does
//! not mistake slow heartbeats for dead nodes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corral_types::{Node, NodeState};

/// Heartbeats the server is willing to take per second, all nodes together.
pub const MAX_HEARTBEATS_PER_S: usize = 250;

/// The interval asked of agents: `base_s`, or longer when `nodes` would
/// send more than [`MAX_HEARTBEATS_PER_S`].
pub fn heartbeat_interval_s(base_s: u64, nodes: usize) -> u64 {
    let needed = u64::try_from(nodes.div_ceil(MAX_HEARTBEATS_PER_S)).unwrap_or(u64::MAX);
    base_s.max(needed).max(1)
}

/// The silence after which a node is disconnected: `configured`, but never
/// less than three heartbeat intervals.
pub fn disconnect_after(configured: Duration, interval_s: u64) -> Duration {
    configured.max(Duration::from_secs(interval_s.saturating_mul(3)))
}

/// When each node was last heard from.
#[derive(Debug)]
pub struct Liveness {
    seen: Mutex<HashMap<(String, String), Instant>>,
    base_interval_s: u64,
}

impl Default for Liveness {
    fn default() -> Self {
        Liveness::new()
    }
}

impl Liveness {
    /// Asks agents for a heartbeat every second (more with many nodes).
    pub fn new() -> Self {
        Liveness::with_interval(1)
    }

    pub fn with_interval(base_interval_s: u64) -> Self {
        Liveness {
            seen: Mutex::new(HashMap::new()),
            base_interval_s: base_interval_s.max(1),
        }
    }

    /// The heartbeat interval to ask of agents now.
    pub fn interval_s(&self) -> u64 {
        let nodes = self.seen.lock().map(|s| s.len()).unwrap_or(0);
        heartbeat_interval_s(self.base_interval_s, nodes)
    }

    /// Records a heartbeat (or a join) of node `name` now.
    pub fn beat(&self, environment: &str, name: &str, now: Instant) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert((environment.to_string(), name.to_string()), now);
        }
    }

    /// When the node was last heard from; a node never heard from since this
    /// server started counts as heard from now, so a restart gives every
    /// node a full timeout to come back.
    pub fn last_seen(&self, environment: &str, name: &str, now: Instant) -> Instant {
        match self.seen.lock() {
            Ok(mut seen) => *seen
                .entry((environment.to_string(), name.to_string()))
                .or_insert(now),
            Err(_) => now,
        }
    }

    pub fn forget(&self, environment: &str, name: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(&(environment.to_string(), name.to_string()));
        }
    }
}

/// The state each node should be in: active while heard from within
/// `timeout`, disconnected after.
pub fn plan_liveness(
    nodes: &[&Node],
    last_seen: impl Fn(&Node) -> Instant,
    now: Instant,
    timeout: Duration,
) -> Vec<(String, String, NodeState)> {
    let mut changes = Vec::new();
    for node in nodes {
        let alive = now.saturating_duration_since(last_seen(node)) <= timeout;
        let want = match (node.status.state, alive) {
            (NodeState::Active, false) => NodeState::Disconnected,
            (NodeState::Disconnected, true) => NodeState::Active,
            (state, _) => state,
        };
        if want != node.status.state {
            changes.push((node.meta.environment.clone(), node.meta.name.clone(), want));
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_types::{Kind, NodeSpec, Object};

    fn node(name: &str, state: NodeState) -> Node {
        let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
        n.status.state = state;
        n
    }

    #[test]
    fn a_node_silent_past_the_timeout_is_disconnected_and_comes_back_when_heard() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(5);
        let a = node("a", NodeState::Active);
        let b = node("b", NodeState::Disconnected);
        let c = node("c", NodeState::Active);
        let seen = |n: &Node| match n.meta.name.as_str() {
            "a" => t0,
            _ => t0 + Duration::from_secs(5),
        };
        let changes = plan_liveness(&[&a, &b, &c], seen, t0 + Duration::from_secs(6), timeout);
        assert_eq!(
            changes,
            vec![
                ("default".into(), "a".into(), NodeState::Disconnected),
                ("default".into(), "b".into(), NodeState::Active),
            ]
        );
    }

    #[test]
    fn a_node_unknown_to_a_new_server_gets_a_full_timeout() {
        let live = Liveness::new();
        let t0 = Instant::now();
        assert_eq!(live.last_seen("default", "a", t0), t0);
        assert_eq!(
            live.last_seen("default", "a", t0 + Duration::from_secs(9)),
            t0
        );
    }

    #[test]
    fn the_heartbeat_interval_grows_with_the_nodes_and_the_timeout_with_it() {
        assert_eq!(heartbeat_interval_s(2, 1), 2);
        assert_eq!(heartbeat_interval_s(2, 500), 2);
        assert_eq!(heartbeat_interval_s(2, 501), 3);
        assert_eq!(heartbeat_interval_s(2, 1_000), 4);
        assert_eq!(heartbeat_interval_s(2, 5_000), 20);
        assert_eq!(heartbeat_interval_s(0, 0), 1);
        let configured = Duration::from_secs(15);
        assert_eq!(disconnect_after(configured, 2), configured);
        assert_eq!(disconnect_after(configured, 10), Duration::from_secs(30));
        // The default: 5 s at 1 s heartbeats, a minute at 5,000 nodes.
        let default = crate::DEFAULT_NODE_TIMEOUT;
        assert_eq!(
            disconnect_after(default, heartbeat_interval_s(1, 250)),
            default
        );
        assert_eq!(
            disconnect_after(default, heartbeat_interval_s(1, 5_000)),
            Duration::from_secs(60)
        );
        let liveness = Liveness::with_interval(2);
        let now = Instant::now();
        for i in 0..1_500 {
            liveness.beat("default", &format!("n{i}"), now);
        }
        assert_eq!(liveness.interval_s(), 6);
    }
}
