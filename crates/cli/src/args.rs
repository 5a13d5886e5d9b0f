//! The command line: clap structs and the value parsers that reject bad input
//! before any request is made.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use corral_types::{PortSpec, RestartPolicy, validate_label_key, validate_name};

use crate::output::{Format, ObjectFormat};

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
    /// Print the container output of an instance.
    Logs(LogsArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to serve the API on.
    #[arg(long, default_value = "127.0.0.1:7480", value_name = "ADDR")]
    pub listen: String,
    /// Where the server keeps its state [default: $XDG_DATA_HOME/corral].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct AgentArgs {
    /// URL of the server to join.
    #[arg(long, env = "CORRAL_URL", value_name = "URL")]
    pub server: String,
    /// Token to join with.
    #[arg(long, env = "CORRAL_TOKEN", hide_env_values = true)]
    pub token: String,
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
}

#[derive(Debug, Subcommand)]
pub enum NodeCmd {
    /// List nodes.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
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

fn parse_name(s: &str) -> Result<String, String> {
    validate_name("name", s).map_err(|e| e.message)?;
    Ok(s.to_string())
}

fn parse_environment(s: &str) -> Result<String, String> {
    validate_name("environment", s).map_err(|e| e.message)?;
    Ok(s.to_string())
}

fn split_key_value(s: &str) -> Result<(String, String), String> {
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
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied()))
    }

    fn parse_err(args: &[&str]) -> String {
        match parse(args) {
            Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn create(args: &[&str]) -> CreateArgs {
        let mut all = vec!["service", "create"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Service(ServiceCmd::Create(c)) => c,
            other => panic!("not create: {other:?}"),
        }
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn environment_defaults_and_is_global() {
        let cli = parse(&["node", "ls"]).unwrap();
        // CORRAL_ENVIRONMENT may be set where tests run; only check it when it is not.
        if std::env::var_os("CORRAL_ENVIRONMENT").is_none() {
            assert_eq!(cli.environment, "default");
        }
        let cli = parse(&["service", "ls", "-E", "prod"]).unwrap();
        assert_eq!(cli.environment, "prod");
        let cli = parse(&["--environment", "staging", "node", "ls"]).unwrap();
        assert_eq!(cli.environment, "staging");
        assert!(parse_err(&["-E", "Bad_Env", "node", "ls"]).contains("Bad_Env"));
    }

    #[test]
    fn server_and_up_defaults() {
        match parse(&["server"]).unwrap().command {
            Command::Server(s) => {
                assert_eq!(s.listen, "127.0.0.1:7480");
                assert_eq!(s.data_dir, None);
            }
            other => panic!("{other:?}"),
        }
        match parse(&["up", "--data-dir", "/tmp/x"]).unwrap().command {
            Command::Up(u) => {
                assert_eq!(u.listen, "127.0.0.1:7480");
                assert_eq!(u.agent_listen, "127.0.0.1:7481");
                assert_eq!(u.data_dir, Some(PathBuf::from("/tmp/x")));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn agent_parses_repeated_labels() {
        let args = [
            "agent",
            "--server",
            "http://s:7480",
            "--token",
            "t",
            "--label",
            "zone=a",
            "--label",
            "disk=ssd",
            "--address",
            "10.0.0.2",
        ];
        match parse(&args).unwrap().command {
            Command::Agent(a) => {
                assert_eq!(a.server, "http://s:7480");
                assert_eq!(a.token, "t");
                assert_eq!(a.labels, vec!["zone=a", "disk=ssd"]);
                assert_eq!(a.label_map().get("disk").map(String::as_str), Some("ssd"));
                assert_eq!(a.listen, "0.0.0.0:7481");
                assert_eq!(a.address.as_deref(), Some("10.0.0.2"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn agent_rejects_label_without_equals() {
        let e = parse_err(&["agent", "--server", "u", "--token", "t", "--label", "zone"]);
        assert!(e.contains("--label") && e.contains("zone"), "{e}");
    }

    #[test]
    fn service_create_parses_every_flag() {
        let c = create(&[
            "web",
            "--image",
            "nginx:1",
            "--scale",
            "3",
            "-p",
            "8080:80",
            "-p",
            "53:53/udp",
            "-e",
            "A=1",
            "-e",
            "B=x=y",
            "-l",
            "tier=front",
            "--restart",
            "on-failure",
            "--cpus",
            "0.5",
            "--memory",
            "256m",
            "--",
            "httpd",
            "-f",
            "-p",
            "80",
        ]);
        assert_eq!(c.name, "web");
        assert_eq!(c.image, "nginx:1");
        assert_eq!(c.scale, 3);
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.ports[1].to_string(), "53:53/udp");
        assert_eq!(c.env[1], ("B".to_string(), "x=y".to_string()));
        assert_eq!(c.labels, vec![("tier".to_string(), "front".to_string())]);
        assert_eq!(c.restart, RestartPolicy::OnFailure);
        assert_eq!(c.cpu_millis, Some(500));
        assert_eq!(c.memory_bytes, Some(256 << 20));
        assert_eq!(c.command, vec!["httpd", "-f", "-p", "80"]);
    }

    #[test]
    fn service_create_defaults() {
        let c = create(&["web", "--image", "nginx"]);
        assert_eq!(c.scale, 1);
        assert_eq!(c.restart, RestartPolicy::Always);
        assert!(c.ports.is_empty() && c.command.is_empty());
        assert_eq!((c.cpu_millis, c.memory_bytes), (None, None));
    }

    #[test]
    fn service_create_requires_image() {
        assert!(parse_err(&["service", "create", "web"]).contains("--image"));
    }

    #[test]
    fn bad_publish_is_rejected_naming_flag_and_value() {
        let e = parse_err(&["service", "create", "web", "--image", "i", "-p", "80:x"]);
        assert!(e.contains("--publish") && e.contains("80:x"), "{e}");
        let e = parse_err(&["service", "create", "web", "--image", "i", "-p", "80/sctp"]);
        assert!(e.contains("sctp"), "{e}");
    }

    #[test]
    fn env_without_equals_is_rejected_naming_flag_and_value() {
        let e = parse_err(&["service", "create", "web", "--image", "i", "-e", "FOO"]);
        assert!(
            e.contains("--env") && e.contains("FOO") && e.contains("KEY=VALUE"),
            "{e}"
        );
        let e = parse_err(&["service", "create", "web", "--image", "i", "-e", "=v"]);
        assert!(e.contains("empty key"), "{e}");
    }

    #[test]
    fn bad_label_key_is_rejected() {
        let e = parse_err(&["service", "create", "web", "--image", "i", "-l", "a b=c"]);
        assert!(e.contains("--label") && e.contains("a b"), "{e}");
    }

    #[test]
    fn bad_restart_is_rejected_listing_the_choices() {
        let e = parse_err(&[
            "service",
            "create",
            "web",
            "--image",
            "i",
            "--restart",
            "sometimes",
        ]);
        assert!(
            e.contains("--restart") && e.contains("sometimes") && e.contains("on-failure"),
            "{e}"
        );
    }

    #[test]
    fn bad_memory_and_cpus_are_rejected() {
        for bad in ["256x", "m", "1.5g", "-1", "99999999999g"] {
            let flag = format!("--memory={bad}");
            let e = parse_err(&["service", "create", "web", "--image", "i", &flag]);
            assert!(e.contains("--memory") && e.contains(bad), "{e}");
        }
        for bad in ["0", "-1", "x", "NaN", "0.0001", "inf"] {
            let flag = format!("--cpus={bad}");
            let e = parse_err(&["service", "create", "web", "--image", "i", &flag]);
            assert!(e.contains("--cpus") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn bad_names_are_rejected() {
        let e = parse_err(&["service", "create", "Web_1", "--image", "i"]);
        assert!(e.contains("Web_1") && e.contains("lowercase"), "{e}");
        assert!(parse_err(&["service", "rm", "ok", "bad-"]).contains("bad-"));
        assert!(parse_err(&["logs", "A"]).contains("\"A\""));
    }

    #[test]
    fn scale_must_be_a_number() {
        let e = parse_err(&["service", "scale", "web", "three"]);
        assert!(e.contains("three") && e.contains("<N>"), "{e}");
        assert!(parse_err(&["service", "scale", "web", "-1"]).contains("-1"));
        match parse(&["service", "scale", "web", "5"]).unwrap().command {
            Command::Service(ServiceCmd::Scale(s)) => {
                assert_eq!((s.name.as_str(), s.scale), ("web", 5))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn listing_verbs_take_an_output_format() {
        match parse(&["node", "ls", "-o", "json"]).unwrap().command {
            Command::Node(NodeCmd::Ls(l)) => assert_eq!(l.output, Format::Json),
            other => panic!("{other:?}"),
        }
        match parse(&["service", "ps", "web", "--output", "yaml"])
            .unwrap()
            .command
        {
            Command::Service(ServiceCmd::Ps(p)) => assert_eq!(p.output, Format::Yaml),
            other => panic!("{other:?}"),
        }
        match parse(&["service", "inspect", "web"]).unwrap().command {
            Command::Service(ServiceCmd::Inspect(i)) => assert_eq!(i.output, ObjectFormat::Yaml),
            other => panic!("{other:?}"),
        }
        assert!(parse_err(&["service", "ls", "-o", "xml"]).contains("xml"));
        assert!(parse_err(&["service", "inspect", "web", "-o", "table"]).contains("table"));
    }

    #[test]
    fn rm_takes_several_names_and_needs_one() {
        match parse(&["service", "rm", "a", "b"]).unwrap().command {
            Command::Service(ServiceCmd::Rm(r)) => assert_eq!(r.names, vec!["a", "b"]),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["service", "rm"]).is_err());
    }

    #[test]
    fn logs_flags() {
        match parse(&["logs", "web-1", "-f", "--tail", "20"])
            .unwrap()
            .command
        {
            Command::Logs(l) => {
                assert_eq!(l.instance, "web-1");
                assert!(l.follow);
                assert_eq!(l.tail, Some(20));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse_err(&["logs", "web-1", "--tail", "x"]).contains("--tail"));
    }

    #[test]
    fn memory_uses_binary_units() {
        assert_eq!(parse_memory("1024"), Ok(1024));
        assert_eq!(parse_memory("1k"), Ok(1024));
        assert_eq!(parse_memory("256M"), Ok(256 * 1024 * 1024));
        assert_eq!(parse_memory("2g"), Ok(2 << 30));
        assert_eq!(parse_memory("2gb"), Ok(2 << 30));
    }

    #[test]
    fn cpus_become_millicores() {
        assert_eq!(parse_cpus("0.5"), Ok(500));
        assert_eq!(parse_cpus("2"), Ok(2000));
        assert_eq!(parse_cpus("0.25"), Ok(250));
        assert_eq!(parse_cpus("1.0005"), Ok(1001));
    }
}
