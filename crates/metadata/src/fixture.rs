//! A hand-made environment for the tests: two hosts, stack `shop` with
//! services `web` (two containers, one of them at 127.0.0.2) and `db`, a
//! standalone service `solo`, and an instance not placed yet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use corral_netview::EnvSnapshot;
use corral_types::{
    Environment, Health, HealthCheck, Instance, InstanceState, Kind, Link, Node, Object, PortSpec,
    Protocol, Service, ServiceSpec, Sidekick, Stack,
};

/// The address of `shop-web-1`, the caller of the HTTP tests.
pub const WEB1_IP: &str = "127.0.0.2";

fn node(name: &str, address: &str) -> Node {
    let mut n: Node = Object::new(Kind::Node, "default", name, Default::default());
    n.meta.uid = format!("uid-{name}");
    n.meta.labels.insert("zone".into(), "a".into());
    n.status.address = address.into();
    n.status.hostname = format!("{name}.example");
    n.status.memory_bytes = 8 << 30;
    n.status.cpu_millis = 4000;
    n
}

fn service(name: &str, stack: &str, spec: ServiceSpec) -> Service {
    let mut s: Service = Object::new(Kind::Service, "default", name, spec);
    s.spec.stack = stack.into();
    s.meta.uid = format!("uid-{name}");
    s
}

fn instance(svc: &Service, ordinal: u32, node: &str, ip: &str) -> Instance {
    let name = format!("{}-{ordinal}", svc.meta.name);
    let mut i: Instance = Object::new(Kind::Instance, "default", &name, Default::default());
    i.meta.uid = format!("uid-{name}");
    i.spec.service = svc.meta.name.clone();
    i.spec.ordinal = ordinal;
    i.spec.node = node.into();
    i.spec.launch = svc.spec.launch();
    i.status.ip = ip.into();
    if !node.is_empty() {
        i.status.state = InstanceState::Running;
        i.status.container_id = format!("{:0>64}", ordinal);
    }
    i
}

fn web_spec() -> ServiceSpec {
    ServiceSpec {
        image: "nginx".into(),
        scale: 2,
        ports: vec![
            PortSpec {
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            PortSpec {
                host_port: 0,
                container_port: 9000,
                protocol: Protocol::Udp,
            },
        ],
        container_labels: BTreeMap::from([
            ("app".to_string(), "web".to_string()),
            (
                "io.rancher.scheduler.affinity:host_label".to_string(),
                "zone=a".to_string(),
            ),
        ]),
        links: vec![Link {
            service: "db".into(),
            alias: "database".into(),
        }],
        sidekicks: vec![Sidekick {
            name: "logger".into(),
            image: "busybox".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The environment at revision `revision`.
pub fn snapshot(revision: u64) -> EnvSnapshot {
    let mut env: Environment =
        Object::new(Kind::Environment, "default", "default", Default::default());
    env.meta.uid = "uid-env".into();
    let mut stack: Stack = Object::new(Kind::Stack, "default", "shop", Default::default());
    stack.meta.uid = "uid-shop".into();

    let web = service("shop-web", "shop", web_spec());
    let db_spec = ServiceSpec {
        image: "postgres".into(),
        scale: 1,
        health_check: Some(HealthCheck::default()),
        ..Default::default()
    };
    let db = service("shop-db", "shop", db_spec);
    let solo_spec = ServiceSpec {
        image: "busybox".into(),
        scale: 1,
        ..Default::default()
    };
    let solo = service("solo", "", solo_spec);

    let mut web1 = instance(&web, 1, "n1", WEB1_IP);
    web1.status.restarts = 2;
    let web2 = instance(&web, 2, "n2", "10.42.0.3");
    let web3 = instance(&web, 3, "", "");
    let mut db1 = instance(&db, 1, "n1", "10.42.0.4");
    db1.status.health = Health::Healthy;
    let solo1 = instance(&solo, 1, "n2", "10.42.0.5");

    EnvSnapshot {
        environment: "default".into(),
        environment_object: Some(env),
        revision,
        synced: true,
        nodes: [node("n1", "192.168.1.1"), node("n2", "192.168.1.2")]
            .into_iter()
            .map(|n| (n.meta.name.clone(), n))
            .collect(),
        stacks: BTreeMap::from([("shop".to_string(), stack)]),
        services: [web, db, solo]
            .into_iter()
            .map(|s| (s.meta.name.clone(), s))
            .collect(),
        instances: [web1, web2, web3, db1, solo1]
            .into_iter()
            .map(|i| (i.meta.name.clone(), i))
            .collect(),
    }
}
