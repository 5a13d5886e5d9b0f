//! `corral-netbench-server`: runs Corral's DNS server or load balancer
//! from a hand-made environment snapshot, for `cargo xtask bench dns|lb`.
//!
//! xtask itself is built in debug by `cargo xtask`; the servers under test
//! must be measured in release build, so the benches build this binary with
//! `cargo build --release -p xtask --bin corral-netbench-server` and start
//! it as a child process (which also lets them pin it to a CPU and read its
//! CPU time and memory from /proc). It serves until it is killed.
//!
//! - `dns --listen ADDR --hosts FILE [--domain D]`: the snapshot holds, for
//!   every `ADDRESS NAME` line of the hosts file (the file dnsmasq reads),
//!   a running instance with that address of service `SERVICE` in stack
//!   `STACK` of environment `ENV`, where NAME is `SERVICE.STACK.ENV.D`.
//! - `lb --listen 127.0.0.1:PORT --backend ADDR...`: one load balancer
//!   `bench-lb` with an http port rule PORT → service `web` of stack
//!   `bench`, whose running instances have the backends' addresses; every
//!   backend must listen on the same port (one `target_port` per rule).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use corral_netview::EnvSnapshot;
use corral_types::{
    Instance, InstanceState, Kind, LbConfig, LbProtocol, Node, NodeState, Object, PortRule,
    Service, Stack,
};
use tokio::sync::watch;

const NODE: &str = "bench-node";
const LB_STACK: &str = "bench";
const LB_TARGET: &str = "web";
const LB_NAME: &str = "bench-lb";

#[derive(Debug, Parser)]
#[command(
    name = "corral-netbench-server",
    about = "corral-dns or corral-lb from a hand-made snapshot"
)]
struct Cli {
    #[command(subcommand)]
    server: Server,
}

#[derive(Debug, Subcommand)]
enum Server {
    /// Corral's DNS server answering for the records of a hosts file.
    Dns {
        #[arg(long)]
        listen: SocketAddr,
        /// `ADDRESS SERVICE.STACK.ENV.DOMAIN` lines.
        #[arg(long)]
        hosts: PathBuf,
        #[arg(long, default_value = "corral.internal")]
        domain: String,
    },
    /// Corral's load balancer: one http rule to the backends.
    Lb {
        #[arg(long)]
        listen: SocketAddr,
        #[arg(long = "backend", required = true)]
        backends: Vec<SocketAddr>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    match cli.server {
        Server::Dns {
            listen,
            hosts,
            domain,
        } => {
            let text = std::fs::read_to_string(&hosts)
                .with_context(|| format!("cannot read {}", hosts.display()))?;
            let snapshot = dns_snapshot(&text, &domain)?;
            eprintln!(
                "corral-dns: {} services, {} instances in environment {}",
                snapshot.services.len(),
                snapshot.instances.len(),
                snapshot.environment
            );
            runtime.block_on(serve_dns(listen, domain, snapshot))
        }
        Server::Lb { listen, backends } => {
            let snapshot = lb_snapshot(listen.port(), &backends)?;
            runtime.block_on(serve_lb(listen, snapshot))
        }
    }
}

/// Serves corral-dns on `listen` (UDP and TCP) from the snapshot until the
/// process is killed. No upstream: every name asked is internal.
async fn serve_dns(
    listen: SocketAddr,
    domain: String,
    snapshot: EnvSnapshot,
) -> anyhow::Result<()> {
    if domain.trim_matches('.') != corral_dns::INTERNAL_SUFFIX {
        bail!(
            "corral-dns answers under {} only, not {domain}",
            corral_dns::INTERNAL_SUFFIX
        );
    }
    let (_publish, view) = watch::channel(Arc::new(snapshot));
    let (_stop, shutdown) = watch::channel(false);
    let config = corral_dns::DnsConfig {
        listen: vec![listen],
        // The benchmark client may be anywhere: answer every address.
        clients: vec![corral_types::Ipv4Cidr {
            addr: std::net::Ipv4Addr::UNSPECIFIED,
            prefix: 0,
        }],
        ..corral_dns::DnsConfig::default()
    };
    let server = corral_dns::DnsServer::bind(config)
        .await
        .context("cannot start corral-dns")?;
    eprintln!("corral-dns serving on {:?}", server.local_addrs());
    server
        .run(view, shutdown)
        .await
        .context("corral-dns stopped")?;
    bail!("corral-dns returned before it was stopped")
}

/// Runs corral-lb `bench-lb` on `listen` from the snapshot until the
/// process is killed.
async fn serve_lb(listen: SocketAddr, snapshot: EnvSnapshot) -> anyhow::Result<()> {
    let config = snapshot
        .services
        .get(LB_NAME)
        .and_then(|s| s.spec.lb.clone())
        .context("the snapshot has no load balancer")?;
    let (_publish, view) = watch::channel(Arc::new(snapshot));
    let handle = corral_lb::LbRuntime::start(
        LB_NAME,
        config,
        LB_STACK,
        BTreeMap::new(),
        view,
        listen.ip(),
    )
    .await
    .context("cannot start corral-lb")?;
    eprintln!("corral-lb serving on {:?}", handle.local_addrs().await);
    std::future::pending::<()>().await;
    handle.stop().await;
    Ok(())
}

/// A snapshot with one running instance per `ADDRESS NAME` line.
fn dns_snapshot(hosts: &str, domain: &str) -> anyhow::Result<EnvSnapshot> {
    let suffix = format!(".{}", domain.trim_matches('.'));
    let mut snapshot = EnvSnapshot::default();
    for (number, line) in hosts.lines().enumerate() {
        let mut words = line.split_whitespace();
        let (Some(ip), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let labels: Vec<&str> = name
            .strip_suffix(&suffix)
            .with_context(|| format!("line {}: {name} is not under {domain}", number + 1))?
            .split('.')
            .collect();
        let [service, stack, environment] = labels[..] else {
            bail!(
                "line {}: {name} is not SERVICE.STACK.ENV{suffix}",
                number + 1
            );
        };
        if snapshot.environment.is_empty() {
            snapshot.environment = environment.to_owned();
        } else if snapshot.environment != environment {
            bail!(
                "line {}: one environment only, not {environment}",
                number + 1
            );
        }
        add_instance(&mut snapshot, stack, service, ip);
    }
    if snapshot.instances.is_empty() {
        bail!("no records in the hosts file");
    }
    finish(&mut snapshot);
    Ok(snapshot)
}

/// A snapshot with the load balancer service and its target's instances.
fn lb_snapshot(port: u16, backends: &[SocketAddr]) -> anyhow::Result<EnvSnapshot> {
    let target_port = backends.first().context("no backend")?.port();
    if backends.iter().any(|b| b.port() != target_port) {
        bail!("every backend must listen on the same port (one target_port per rule)");
    }
    let mut snapshot = EnvSnapshot {
        environment: "default".into(),
        ..EnvSnapshot::default()
    };
    for backend in backends {
        add_instance(
            &mut snapshot,
            LB_STACK,
            LB_TARGET,
            &backend.ip().to_string(),
        );
    }
    let mut lb: Service = Object::new(Kind::Service, "default", LB_NAME, Default::default());
    lb.spec.stack = LB_STACK.into();
    lb.spec.scale = 1;
    lb.spec.lb = Some(lb_config(port, target_port));
    snapshot.services.insert(LB_NAME.into(), lb);
    finish(&mut snapshot);
    Ok(snapshot)
}

/// The balancer's config: every request on `port` to the target service.
fn lb_config(port: u16, target_port: u16) -> LbConfig {
    LbConfig {
        port_rules: vec![PortRule {
            source_port: port,
            protocol: LbProtocol::Http,
            target_service: LB_TARGET.into(),
            target_port,
            ..PortRule::default()
        }],
        ..LbConfig::default()
    }
}

/// Adds a running instance (and its service and stack when new).
fn add_instance(snapshot: &mut EnvSnapshot, stack: &str, short: &str, ip: &str) {
    let env = snapshot.environment.clone();
    let service_name = format!("{stack}-{short}");
    if !snapshot.stacks.contains_key(stack) {
        let object: Stack = Object::new(Kind::Stack, &env, stack, Default::default());
        snapshot.stacks.insert(stack.to_owned(), object);
    }
    let service = snapshot
        .services
        .entry(service_name.clone())
        .or_insert_with(|| {
            let mut s: Service =
                Object::new(Kind::Service, &env, &service_name, Default::default());
            s.spec.stack = stack.to_owned();
            s.spec.image = "corral-whoami:latest".into();
            s
        });
    service.spec.scale += 1;
    service.status.running += 1;
    let ordinal = service.spec.scale;
    let launch = service.spec.clone();
    let name = format!("{service_name}-{ordinal}");
    let mut instance: Instance = Object::new(Kind::Instance, &env, &name, Default::default());
    instance.spec.service = service_name;
    instance.spec.ordinal = ordinal;
    instance.spec.node = NODE.into();
    instance.spec.launch = launch;
    instance.status.state = InstanceState::Running;
    instance.status.ip = ip.to_owned();
    snapshot.instances.insert(name, instance);
}

/// The node, the stacks' service lists, and the snapshot marked synced.
fn finish(snapshot: &mut EnvSnapshot) {
    let mut node: Node = Object::new(Kind::Node, &snapshot.environment, NODE, Default::default());
    node.status.state = NodeState::Active;
    node.status.address = "127.0.0.1".into();
    snapshot.nodes.insert(NODE.into(), node);
    let mut by_stack: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, service) in &snapshot.services {
        by_stack
            .entry(service.spec.stack.clone())
            .or_default()
            .push(name.clone());
    }
    for (stack, services) in by_stack {
        if let Some(object) = snapshot.stacks.get_mut(&stack) {
            object.status.services = services;
        }
    }
    snapshot.revision = 1;
    snapshot.synced = true;
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn every_hosts_line_becomes_a_running_instance_of_its_service() {
        let hosts = "10.77.0.1 svc000.bench.default.corral.internal\n\
                     10.77.0.2 svc000.bench.default.corral.internal\n\
                     10.77.0.3 svc001.bench.default.corral.internal\n";
        let s = dns_snapshot(hosts, "corral.internal").unwrap();
        assert_eq!(s.environment, "default");
        assert_eq!(s.services.len(), 2);
        let second = &s.instances["bench-svc000-2"];
        assert_eq!(second.spec.service, "bench-svc000");
        assert_eq!(second.spec.launch.stack, "bench");
        assert_eq!(second.status.ip, "10.77.0.2");
        assert!(corral_netview::is_serving(second));
        let service = s.service_in_stack("bench", "svc001").unwrap();
        assert_eq!(service.spec.scale, 1);
        assert_eq!(s.stacks["bench"].status.services.len(), 2);
    }

    #[test]
    fn a_name_outside_the_domain_is_refused() {
        assert!(dns_snapshot("10.0.0.1 a.b.c.example.org\n", "corral.internal").is_err());
        assert!(dns_snapshot("10.0.0.1 a.b.corral.internal\n", "corral.internal").is_err());
    }

    #[test]
    fn the_balancer_routes_its_port_to_the_web_instances() {
        let backends: Vec<SocketAddr> = vec![
            "127.0.0.2:8080".parse().unwrap(),
            "127.0.0.3:8080".parse().unwrap(),
        ];
        let s = lb_snapshot(9000, &backends).unwrap();
        let lb = s.services[LB_NAME].spec.lb.as_ref().unwrap();
        let rule = &lb.port_rules[0];
        assert_eq!((rule.source_port, rule.target_port), (9000, 8080));
        assert_eq!(rule.target(LB_STACK), ("bench", "web"));
        let ips: Vec<&str> = s.instances.values().map(|i| i.status.ip.as_str()).collect();
        assert_eq!(ips, ["127.0.0.2", "127.0.0.3"]);
    }

    #[test]
    fn backends_on_different_ports_are_refused() {
        let backends: Vec<SocketAddr> = vec![
            "127.0.0.2:8080".parse().unwrap(),
            "127.0.0.3:8081".parse().unwrap(),
        ];
        assert!(lb_snapshot(9000, &backends).is_err());
    }
}
