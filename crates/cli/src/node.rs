//! `corral node ls|drain|activate|rm`.

use std::collections::BTreeMap;
use std::time::Instant;

use corral_api::Client;
use corral_types::{ContainerLabels, Instance, InstanceState, Kind, Node, NodeState};
use serde::Serialize;

use crate::args::{DrainArgs, NodeCmd, NodeRmArgs};
use crate::errors::{list_error, object_error};
use crate::output::{Row, human_bytes, human_cpus, print, print_rows};

pub(crate) async fn run(client: &Client, env: &str, cmd: NodeCmd) -> anyhow::Result<()> {
    match cmd {
        NodeCmd::Ls(args) => {
            let list = client
                .nodes(env)
                .await
                .map_err(|e| list_error(e, "nodes", env))?;
            print_rows(&node_rows(&list.items), args.output)?;
            for line in network_errors(&list.items) {
                eprintln!("{line}");
            }
            Ok(())
        }
        NodeCmd::Drain(args) => drain(client, env, &args).await,
        NodeCmd::Activate(args) => {
            client
                .activate_node(env, &args.name)
                .await
                .map_err(|e| object_error(e, "activate", "node", env, &args.name))?;
            print(&format!("{}\n", args.name))
        }
        NodeCmd::Rm(args) => remove(client, env, &args).await,
    }
}

/// Marks the node draining, and with `--wait` waits until it is empty.
async fn drain(client: &Client, env: &str, args: &DrainArgs) -> anyhow::Result<()> {
    let name = &args.name;
    client
        .drain_node(env, name)
        .await
        .map_err(|e| object_error(e, "drain", "node", env, name))?;
    let mut left = instances_left(client, env, name).await?;
    print(&format!("{name} draining: {left} instances to move\n"))?;
    if !args.wait {
        return Ok(());
    }
    let started = Instant::now();
    let initial = left as u64;
    let mut bars = crate::progress::Bars::new();
    while left > 0 {
        let moved = initial.saturating_sub(left as u64);
        bars.set(name, moved, initial, &format!("{left} instances to move"));
        if started.elapsed() >= args.timeout {
            bars.clear();
            anyhow::bail!(
                "node {name:?} still runs {left} instances after {:?}; the drain goes on \
                 (see corral node ls and corral service ps)",
                args.timeout
            );
        }
        tokio::time::sleep(crate::progress::POLL).await;
        left = instances_left(client, env, name).await?;
    }
    bars.clear();
    print(&format!("{name} drained\n"))
}

/// Instances still on node `name`; finished jobs stay where they ran and
/// do not count.
async fn instances_left(client: &Client, env: &str, name: &str) -> anyhow::Result<usize> {
    let selector = format!("{}={name}", ContainerLabels::NODE);
    let list = client
        .list::<_, _>(env, Kind::Instance, &selector)
        .await
        .map_err(|e| list_error(e, "instances", env))?;
    let items: Vec<Instance> = list.items;
    Ok(items
        .iter()
        .filter(|i| i.spec.node == name && !finished_job(i))
        .count())
}

fn finished_job(inst: &Instance) -> bool {
    !inst.spec.removing
        && inst.spec.launch.job.is_some()
        && matches!(
            inst.status.state,
            InstanceState::Exited | InstanceState::Failed
        )
}

async fn remove(client: &Client, env: &str, args: &NodeRmArgs) -> anyhow::Result<()> {
    let name = &args.name;
    match client.remove_node(env, name, args.force).await {
        Ok(()) => print(&format!("{name}\n")),
        Err(e) if e.is_conflict() && !args.force => Err(anyhow::anyhow!(
            "cannot remove node {name:?}: {e} (corral node drain {name}, \
             or corral node rm --force {name})"
        )),
        Err(e) => Err(object_error(e, "remove", "node", env, name)),
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
    /// Why the managed network is not programmed on the node (omitted
    /// when it is).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub network_error: String,
}

/// One line per node whose agent could not program the managed network,
/// saying why (a range that overlaps a route on the host, say).
pub(crate) fn network_errors(nodes: &[Node]) -> Vec<String> {
    let mut lines: Vec<String> = nodes
        .iter()
        .filter(|n| !n.status.network_error.is_empty())
        .map(|n| {
            format!(
                "node {}: no managed network: {}",
                n.meta.name, n.status.network_error
            )
        })
        .collect();
    lines.sort();
    lines
}

/// The state `node ls` shows: active, draining, unschedulable (cordoned),
/// joining or disconnected, the last two with `,draining` or
/// `,unschedulable` when that applies too.
pub(crate) fn shown_state(node: &Node) -> String {
    let flag = if node.spec.draining {
        Some("draining")
    } else if node.spec.unschedulable {
        Some("unschedulable")
    } else {
        None
    };
    match (node.status.state, flag) {
        (NodeState::Active, Some(flag)) => flag.to_string(),
        (state, Some(flag)) => format!("{state},{flag}"),
        (state, None) => state.to_string(),
    }
}

impl From<&Node> for NodeRow {
    fn from(node: &Node) -> Self {
        let s = &node.status;
        NodeRow {
            name: node.meta.name.clone(),
            state: shown_state(node),
            address: s.address.clone(),
            labels: node.meta.labels.clone(),
            cpus: s.cpu_millis as f64 / 1000.0,
            cpu_millis: s.cpu_millis,
            memory_bytes: s.memory_bytes,
            engine_version: s.engine_version.clone(),
            last_heartbeat: s.last_heartbeat.clone(),
            network_error: s.network_error.clone(),
        }
    }
}

impl Row for NodeRow {
    const HEADERS: &'static [&'static str] = &[
        "NAME", "STATE", "ADDRESS", "CPUS", "MEMORY", "ENGINE", "LABELS",
    ];

    fn cells(&self) -> Vec<String> {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        vec![
            self.name.clone(),
            self.state.clone(),
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

    fn node(name: &str, state: NodeState) -> Node {
        node_with(name, state, 4000)
    }

    fn node_with(name: &str, state: NodeState, cpu_millis: u64) -> Node {
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
        let rows = node_rows(&[node_with("n1", NodeState::Active, 4000)]);
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
            node_with("n2", NodeState::Disconnected, 500),
            node_with("n1", NodeState::Active, 4000),
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

    #[test]
    fn node_state_shows_draining_and_cordoned_nodes() {
        let mut n = node("n1", NodeState::Active);
        assert_eq!(shown_state(&n), "active");
        n.spec.unschedulable = true;
        assert_eq!(shown_state(&n), "unschedulable");
        n.spec.draining = true;
        assert_eq!(shown_state(&n), "draining");
        n.status.state = NodeState::Disconnected;
        assert_eq!(shown_state(&n), "disconnected,draining");
        n.spec = NodeSpec::default();
        assert_eq!(shown_state(&n), "disconnected");
    }

    #[test]
    fn a_node_without_its_managed_network_says_why() {
        let mut n = node("n1", NodeState::Active);
        assert!(network_errors(std::slice::from_ref(&n)).is_empty());
        n.status.network_error = "10.42.0.0/16 overlaps the route 10.42.0.0/24 on this host".into();
        assert_eq!(
            network_errors(std::slice::from_ref(&n)),
            [
                "node n1: no managed network: 10.42.0.0/16 overlaps the route 10.42.0.0/24 on this host"
            ]
        );
        let json = serde_json::to_value(node_rows(&[n])).unwrap();
        assert!(
            json[0]["network_error"]
                .as_str()
                .unwrap()
                .contains("overlaps")
        );
    }
}
