//! Node liveness: heartbeats are kept in memory (a write per heartbeat would
//! cost the store thousands of writes a second at scale); only state changes
//! are written.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corral_types::{Node, NodeState};

/// When each node was last heard from.
#[derive(Debug, Default)]
pub struct Liveness {
    seen: Mutex<HashMap<(String, String), Instant>>,
}

impl Liveness {
    pub fn new() -> Self {
        Self::default()
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
}
