//! `corral node ls`.

use std::collections::BTreeMap;

use corral_api::Client;
use corral_types::Node;
use serde::Serialize;

use crate::args::NodeCmd;
use crate::errors::list_error;
use crate::output::{Row, human_bytes, human_cpus, print_rows};

pub(crate) async fn run(client: &Client, env: &str, cmd: NodeCmd) -> anyhow::Result<()> {
    match cmd {
        NodeCmd::Ls(args) => {
            let list = client
                .nodes(env)
                .await
                .map_err(|e| list_error(e, "nodes", env))?;
            print_rows(&node_rows(&list.items), args.output)
        }
    }
}

/// One node as `node ls` shows it.
#[derive(Debug, Serialize)]
pub(crate) struct NodeRow {
    pub name: String,
    pub state: String,
    pub address: String,
    pub labels: BTreeMap<String, String>,
    /// Logical CPUs (millicores / 1000).
    pub cpus: f64,
    #[serde(skip)]
    pub cpu_millis: u64,
    pub memory_bytes: u64,
    pub engine_version: String,
    pub last_heartbeat: String,
    #[serde(skip)]
    pub unschedulable: bool,
}

impl From<&Node> for NodeRow {
    fn from(node: &Node) -> Self {
        let s = &node.status;
        NodeRow {
            name: node.meta.name.clone(),
            state: s.state.to_string(),
            address: s.address.clone(),
            labels: node.meta.labels.clone(),
            cpus: s.cpu_millis as f64 / 1000.0,
            cpu_millis: s.cpu_millis,
            memory_bytes: s.memory_bytes,
            engine_version: s.engine_version.clone(),
            last_heartbeat: s.last_heartbeat.clone(),
            unschedulable: node.spec.unschedulable,
        }
    }
}

impl Row for NodeRow {
    const HEADERS: &'static [&'static str] = &[
        "NAME", "STATE", "ADDRESS", "CPUS", "MEMORY", "ENGINE", "LABELS",
    ];

    fn cells(&self) -> Vec<String> {
        let state = if self.unschedulable {
            format!("{},unschedulable", self.state)
        } else {
            self.state.clone()
        };
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![
            self.name.clone(),
            state,
            self.address.clone(),
            human_cpus(self.cpu_millis),
            human_bytes(self.memory_bytes),
            self.engine_version.clone(),
            labels.join(","),
        ]
    }
}

/// Rows sorted by node name.
pub(crate) fn node_rows(nodes: &[Node]) -> Vec<NodeRow> {
    let mut rows: Vec<NodeRow> = nodes.iter().map(NodeRow::from).collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::{Format, render_rows};
    use corral_types::{Kind, NodeSpec, NodeState, NodeStatus, Object};

    fn node(name: &str, state: NodeState, cpu_millis: u64) -> Node {
        let mut n: Node = Object::new(Kind::Node, "default", name, NodeSpec::default());
        n.meta.labels.insert("zone".into(), "a".into());
        n.status = NodeStatus {
            state,
            address: "10.0.0.1".into(),
            cpu_millis,
            memory_bytes: 8 << 30,
            engine_version: "26.1.5".into(),
            last_heartbeat: "2026-01-01T00:00:00Z".into(),
            ..NodeStatus::default()
        };
        n
    }

    #[test]
    fn node_json_rows_have_the_documented_fields() {
        let rows = node_rows(&[node("n1", NodeState::Active, 4000)]);
        let json: serde_json::Value =
            serde_json::from_str(&render_rows(&rows, Format::Json).unwrap()).unwrap();
        let row = &json[0];
        let keys: Vec<&String> = row.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "address",
                "cpus",
                "engine_version",
                "labels",
                "last_heartbeat",
                "memory_bytes",
                "name",
                "state"
            ]
        );
        assert_eq!(row["state"], "active");
        assert_eq!(row["cpus"], 4.0);
        assert_eq!(row["labels"]["zone"], "a");
        assert_eq!(row["memory_bytes"], 8u64 << 30);
    }

    #[test]
    fn node_table_is_sorted_and_human_readable() {
        let rows = node_rows(&[
            node("n2", NodeState::Disconnected, 500),
            node("n1", NodeState::Active, 4000),
        ]);
        let out = render_rows(&rows, Format::Table).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "NAME   STATE          ADDRESS    CPUS   MEMORY   ENGINE   LABELS"
        );
        assert_eq!(
            lines[1],
            "n1     active         10.0.0.1   4      8GiB     26.1.5   zone=a"
        );
        assert_eq!(
            lines[2],
            "n2     disconnected   10.0.0.1   0.5    8GiB     26.1.5   zone=a"
        );
    }
}
