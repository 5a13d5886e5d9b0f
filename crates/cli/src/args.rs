//! The command line: clap structs and the value parsers that reject bad input
//! before any request is made.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use corral_types::{
    PortSpec, RestartPolicy, validate_label_key, validate_name, validate_subject_name,
};

use crate::output::{Format, ObjectFormat};

mod apikey;
mod auth;
mod catalog;
mod cert;
mod config;
mod duration;
mod env;
mod host;
mod lb;
mod node;
mod parse;
mod secret;
mod stack;
mod upgrade;
mod user;

pub use apikey::{ApiKeyCmd, ApiKeyCreateArgs, AuditCmd, AuditLsArgs};
pub use auth::{AuthCmd, LdapCmd, LdapSetArgs, LdapShowArgs, LdapTestArgs};
pub use catalog::{AppCmd, AppLaunchArgs, CatalogAddArgs, CatalogCmd, CatalogShowArgs};
pub use cert::{CertCmd, CertCreateArgs, CertRmArgs};
pub use config::{ConfigCmd, ConfigFormat};
pub use duration::{
    parse_duration, parse_duration_ms, parse_long_duration_ms, parse_since, parse_ttl,
};
pub use env::{EnvCmd, EnvCreateArgs, EnvInspectArgs, EnvNameArgs};
pub use host::{AddCommandArgs, HostCmd, IdArgs, IdsArgs, SessionCmd, TokenCmd};
pub use lb::{LbCmd, LbCreateArgs, RuleArg};
pub use node::{DrainArgs, LivenessArgs, NodeNameArgs, NodeRmArgs, parse_node_timeout};
pub use secret::{SecretCmd, SecretValueArgs};
pub use stack::{DeployArgs, ExportArgs, StackCmd};
pub use upgrade::{RollbackArgs, UpgradeArgs};
pub use user::{
    LoginArgs, MemberAddArgs, MemberCmd, MemberLsArgs, MemberRmArgs, PasswdArgs, UserCmd,
    UserCreateArgs, UserRmArgs, parse_role,
};

/// Corral: run containers on a cluster of Docker hosts.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about, propagate_version = true)]
pub struct Cli {
    /// The environment to work in.
    #[arg(
        short = 'E',
        long,
        global = true,
        env = "CORRAL_ENVIRONMENT",
        default_value = corral_types::DEFAULT_ENVIRONMENT,
        value_name = "ENV",
        value_parser = parse_environment,
    )]
    pub environment: String,

    /// Whether `-E` or `CORRAL_ENVIRONMENT` gave the environment (not the
    /// default): `catalog add` is then the environment's own, not global.
    #[arg(skip)]
    pub environment_given: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API server.
    Server(ServerArgs),
    /// Run a node agent that joins a server.
    Agent(AgentArgs),
    /// Run a server and an agent in one process, and save the client config.
    Up(UpArgs),
    /// Manage nodes.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Manage services.
    #[command(subcommand)]
    Service(ServiceCmd),
    /// Manage stacks: services deployed together from compose files.
    #[command(subcommand)]
    Stack(StackCmd),
    /// Manage TLS certificates for load balancers.
    #[command(subcommand)]
    Cert(CertCmd),
    /// Manage secrets: values services mount as files, sealed at rest.
    #[command(subcommand)]
    Secret(SecretCmd),
    /// Manage configs: values services mount as files, readable back.
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Catalogs of one-click applications (Rancher catalog repositories).
    #[command(subcommand)]
    Catalog(CatalogCmd),
    /// Applications launched from catalog templates.
    #[command(subcommand)]
    App(AppCmd),
    /// Manage load balancers: services whose instances are proxies run by the agents.
    #[command(subcommand)]
    Lb(LbCmd),
    /// Print the container output of an instance.
    Logs(LogsArgs),
    /// Run a command in an instance's container (`-it` for a shell).
    Exec(ExecArgs),
    /// Live CPU, memory, network and disk use of instances, a service or a host.
    Stats(StatsArgs),
    /// Print a shell's completion script (`source <(corral completion bash)`).
    Completion(CompletionArgs),
    /// Manage environments.
    #[command(subcommand)]
    Env(EnvCmd),
    /// Add hosts to an environment.
    #[command(subcommand)]
    Host(HostCmd),
    /// Manage the registration tokens that add hosts to an environment.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Manage users (admins).
    #[command(subcommand)]
    User(UserCmd),
    /// Log in to a server and save the session in the client config.
    Login(LoginArgs),
    /// End the session and remove its token from the client config.
    Logout,
    /// Show who you are to the server, and your role in each environment.
    Whoami(ListArgs),
    /// Manage who has which role in an environment.
    #[command(subcommand)]
    Member(MemberCmd),
    /// Manage API keys for scripts and automation.
    #[command(subcommand)]
    Apikey(ApiKeyCmd),
    /// Read the audit log (admins).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Configure how users log in (admins).
    #[command(subcommand)]
    Auth(AuthCmd),
    /// Manage login sessions (admins).
    #[command(subcommand)]
    Session(SessionCmd),
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to serve the API on.
    #[arg(long, default_value = "127.0.0.1:7480", value_name = "ADDR")]
    pub listen: String,
    /// Where the server keeps its state [default: $XDG_DATA_HOME/corral].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address range of the `default` environment, set when the first
    /// start creates it; every node takes a /24 of it (a /16 holds 255
    /// nodes, a /11 8,191).
    #[arg(long, default_value = corral_types::DEFAULT_ENV_NETWORK, value_name = "CIDR",
          value_parser = parse_default_network)]
    pub default_network: String,
    #[command(flatten)]
    pub liveness: LivenessArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// The server's TLS certificate.
#[derive(Debug, Clone, Args)]
pub struct TlsArgs {
    /// Serve this certificate chain (PEM) instead of one from the internal
    /// CA; clients then pin the CA it ends in.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Another name or address the internal certificate is valid for
    /// (repeatable); the host's own addresses and name are always in it.
    #[arg(long = "tls-san", value_name = "NAME")]
    pub tls_names: Vec<String>,
}

/// How long the server keeps what it records.
#[derive(Debug, Clone, Args)]
pub struct RetentionArgs {
    /// The audit log keeps at most this many records (the oldest go first).
    #[arg(long, default_value_t = 100_000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(100..))]
    pub audit_max_records: u64,
    /// The audit log keeps no record older than this many days.
    #[arg(long, default_value_t = 90, value_name = "DAYS",
          value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub audit_max_age_days: u64,
    /// How long a login session lasts, in hours.
    #[arg(long, default_value_t = 16, value_name = "HOURS",
          value_parser = clap::value_parser!(u64).range(1..=720))]
    pub session_hours: u64,
}

/// A `--default-network` value: an IPv4 network from /8 to /23.
pub fn parse_default_network(text: &str) -> Result<String, String> {
    corral_types::parse_env_range(text)
        .map(|cidr| cidr.to_string())
        .map_err(|e| e.message)
}

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// URL of the server to join.
    #[arg(long, env = "CORRAL_URL", value_name = "URL")]
    pub server: String,
    /// Registration token to join with, once (`corral host add-command`
    /// prints it); not needed when the state dir holds a node credential.
    #[arg(
        long,
        env = "CORRAL_REGISTRATION_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub registration_token: Option<String>,
    /// The fingerprint of the server's CA (`sha256:...`, printed by
    /// `corral host add-command`): the agent trusts the server only if it
    /// presents that CA.
    #[arg(long, env = "CORRAL_CA_FINGERPRINT", value_name = "FINGERPRINT")]
    pub ca_fingerprint: Option<String>,
    /// Where the agent keeps its node credential [default: $XDG_DATA_HOME/corral/agent].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Node name [default: the host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Node label (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label_arg)]
    pub labels: Vec<String>,
    /// Docker Engine to manage [default: the local socket].
    #[arg(long, env = "DOCKER_HOST", value_name = "URL")]
    pub docker_host: Option<String>,
    /// Address to serve the agent's own endpoint (logs) on.
    #[arg(long, default_value = "0.0.0.0:7481", value_name = "ADDR")]
    pub listen: String,
    /// Address of this node to report to the server [default: detected].
    #[arg(long, value_name = "ADDR")]
    pub address: Option<String>,
    /// Do not program the environment's managed network (VXLAN, internal
    /// DNS, metadata) on this host: containers use the engine's bridge.
    #[arg(
        long,
        env = "CORRAL_NO_MANAGED_NETWORK",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_managed_network: bool,
}

impl AgentArgs {
    /// The `--label` values as a map (each was checked to be `KEY=VALUE` when parsed).
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels
            .iter()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

#[derive(Debug, Clone, Args)]
pub struct UpArgs {
    /// Address to serve the API on.
    #[arg(long, default_value = "127.0.0.1:7480", value_name = "ADDR")]
    pub listen: String,
    /// Where the server keeps its state [default: $XDG_DATA_HOME/corral].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Docker Engine to manage [default: the local socket].
    #[arg(long, env = "DOCKER_HOST", value_name = "URL")]
    pub docker_host: Option<String>,
    /// Address to serve the embedded agent's endpoint (logs) on.
    #[arg(long, default_value = "127.0.0.1:7481", value_name = "ADDR")]
    pub agent_listen: String,
    /// Do not program the environment's managed network (VXLAN, internal
    /// DNS, metadata) on this host: containers use the engine's bridge.
    #[arg(
        long,
        env = "CORRAL_NO_MANAGED_NETWORK",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_managed_network: bool,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub retention: RetentionArgs,
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// List nodes.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Move everything off a node, gracefully, and place nothing new on it.
    Drain(DrainArgs),
    /// Make a drained or cordoned node schedulable again.
    Activate(NodeNameArgs),
    /// Remove a node (its instances are rescheduled).
    #[command(visible_alias = "remove")]
    Rm(NodeRmArgs),
}

#[derive(Debug, Subcommand)]
pub enum ServiceCmd {
    /// Create a service.
    Create(CreateArgs),
    /// List services.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Show a service object.
    Inspect(InspectArgs),
    /// List the instances of a service.
    Ps(PsArgs),
    /// Set the number of instances of a service.
    Scale(ScaleArgs),
    /// Remove services.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Change a service's launch config and roll it out, or pause or resume its rollout.
    Upgrade(UpgradeArgs),
    /// Roll a service back to its previous launch config.
    Rollback(RollbackArgs),
    /// List the launch configs of a service.
    History(PsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Service name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Image to run.
    #[arg(long)]
    pub image: String,
    /// Number of instances.
    #[arg(long, default_value_t = 1)]
    pub scale: u32,
    /// Publish a container port on the host (repeatable).
    #[arg(short = 'p', long = "publish", value_name = "HOSTPORT:PORT[/udp]")]
    pub ports: Vec<PortSpec>,
    /// Environment variable (repeatable).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE", value_parser = parse_env_var)]
    pub env: Vec<(String, String)>,
    /// Label on the service and its containers (repeatable).
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// When to replace a stopped container: always, on-failure, never.
    #[arg(long, default_value = "always", value_name = "POLICY")]
    pub restart: RestartPolicy,
    /// CPUs reserved for each instance (0.5 is half a CPU).
    #[arg(long = "cpus", value_name = "CPUS", value_parser = parse_cpus)]
    pub cpu_millis: Option<u64>,
    /// Memory reserved for each instance (bytes, or with a k, m or g suffix).
    #[arg(long = "memory", value_name = "SIZE", value_parser = parse_memory)]
    pub memory_bytes: Option<u64>,
    /// Mount a secret (repeatable): NAME (at /run/secrets/NAME), or
    /// source=NAME[,target=PATH][,uid=N][,gid=N][,mode=0440] as Swarm's.
    #[arg(long = "secret", value_name = "SECRET", value_parser = secret::parse_secret_mount)]
    pub secrets: Vec<corral_types::SecretMount>,
    /// Mount a config (repeatable): NAME (at /NAME), or
    /// source=NAME[,target=/ABS/PATH][,uid=N][,gid=N][,mode=0440] as Swarm's.
    #[arg(long = "config", value_name = "CONFIG", value_parser = config::parse_config_mount)]
    pub configs: Vec<corral_types::ConfigMount>,
    /// Arguments given to the image's entrypoint.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ObjectFormat::Yaml)]
    pub output: ObjectFormat,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// Show the list again whenever it changes, until interrupted (on a
    /// terminal: redrawn in place).
    #[arg(short, long)]
    pub watch: bool,
}

/// `--wait` and `--timeout` of the commands that start a rollout.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Wait until the services are ready, with a progress bar for each (on
    /// a terminal); exit non-zero if the rollout is rolled back or paused.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits before giving up (the rollout goes on).
    #[arg(long, default_value = "5m", value_name = "DURATION", value_parser = parse_duration, requires = "wait")]
    pub timeout: std::time::Duration,
}

#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// The number of instances wanted.
    #[arg(value_name = "N")]
    pub scale: u32,
}

#[derive(Debug, Clone, Args)]
pub struct RmArgs {
    #[arg(required = true, value_parser = parse_name)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Instance name (`<service>-<ordinal>`).
    #[arg(value_parser = parse_name)]
    pub instance: String,
    /// Keep streaming new output.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long, value_name = "N")]
    pub tail: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct ExecArgs {
    /// Instance name (`<service>-<ordinal>`).
    #[arg(value_parser = parse_name)]
    pub instance: String,
    /// A sidekick of the instance, by name; the primary container by default.
    #[arg(short = 'c', long, value_name = "CONTAINER", value_parser = parse_name)]
    pub container: Option<String>,
    /// Keep stdin open and send it to the command.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// The command and its arguments (after `--` when they start with `-`).
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CompletionArgs {
    /// bash, zsh, fish (or elvish, powershell).
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct StatsArgs {
    /// An instance; every instance of the environment when left out.
    #[arg(value_parser = parse_name, conflicts_with_all = ["node", "service"])]
    pub instance: Option<String>,
    /// A host's own use.
    #[arg(long, value_parser = parse_name, conflicts_with_all = ["service", "nodes"])]
    pub node: Option<String>,
    /// Every host's own use.
    #[arg(long, conflicts_with_all = ["instance", "service"])]
    pub nodes: bool,
    /// A service: the sum of its instances.
    #[arg(long, value_parser = parse_name)]
    pub service: Option<String>,
    /// Print the latest samples once instead of following them.
    #[arg(long)]
    pub no_stream: bool,
}

pub(crate) fn parse_name(s: &str) -> Result<String, String> {
    validate_name("name", s).map_err(|e| e.message)?;
    Ok(s.to_string())
}

fn parse_environment(s: &str) -> Result<String, String> {
    validate_name("environment", s).map_err(|e| e.message)?;
    Ok(s.to_string())
}

/// A login or group name: wider than object names (directories hold
/// capitals, dots and `@`).
fn parse_subject(s: &str) -> Result<String, String> {
    validate_subject_name("name", s).map_err(|e| e.message)?;
    Ok(s.to_string())
}

/// The id of a credential (a token, an API key, a session): letters and digits.
fn parse_id(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{s:?} is not an id (letters and digits, as the listing shows)"
        ));
    }
    Ok(s.to_string())
}

pub(crate) fn split_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some(("", _)) => Err(format!("{s:?} has an empty key (expected KEY=VALUE)")),
        Some((k, v)) => Ok((k.to_string(), v.to_string())),
        None => Err(format!("{s:?} is not KEY=VALUE (no '=')")),
    }
}

/// `-e KEY=VALUE`: an environment variable.
fn parse_env_var(s: &str) -> Result<(String, String), String> {
    let (k, v) = split_key_value(s)?;
    if k.contains('\0') || v.contains('\0') {
        return Err(format!("{s:?} contains a NUL byte"));
    }
    Ok((k, v))
}

/// `-l KEY=VALUE`: a label, whose key must be a valid label key.
fn parse_label(s: &str) -> Result<(String, String), String> {
    let (k, v) = split_key_value(s)?;
    validate_label_key(&k).map_err(|e| e.message)?;
    Ok((k, v))
}

/// `--label KEY=VALUE` kept as the string given, once checked.
fn parse_label_arg(s: &str) -> Result<String, String> {
    parse_label(s).map(|_| s.to_string())
}

/// Most CPUs one instance may reserve.
const MAX_CPUS: f64 = 4096.0;

/// `--cpus 0.5` as millicores (500).
pub fn parse_cpus(s: &str) -> Result<u64, String> {
    let cpus: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of CPUs (such as 0.5 or 2)"))?;
    if !cpus.is_finite() || cpus <= 0.0 || cpus > MAX_CPUS {
        return Err(format!("{s:?} must be above 0 and at most {MAX_CPUS}"));
    }
    let millis = (cpus * 1000.0).round();
    if millis < 1.0 {
        return Err(format!("{s:?} is below the smallest unit of 0.001 CPU"));
    }
    // In range: 1..=4_096_000, checked above.
    Ok(millis as u64)
}

/// `--memory 256m` as bytes: a whole number with an optional k, m or g suffix
/// (binary units, so `1k` is 1024), optionally followed by `b`.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let lower = s.trim().to_ascii_lowercase();
    let body = lower.strip_suffix('b').unwrap_or(&lower);
    let (digits, shift) = match body.as_bytes().last() {
        Some(b'k') => (&body[..body.len() - 1], 10),
        Some(b'm') => (&body[..body.len() - 1], 20),
        Some(b'g') => (&body[..body.len() - 1], 30),
        _ => (body, 0),
    };
    let bad = || format!("{s:?} is not a size (such as 512m, 2g or 1048576)");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

#[cfg(test)]
mod tests;
