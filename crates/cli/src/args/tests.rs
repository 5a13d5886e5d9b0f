//! Tests of the command line.

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
        "--registration-token",
        "crl_r_a1_s3cret",
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
            assert_eq!(a.registration_token.as_deref(), Some("crl_r_a1_s3cret"));
            assert_eq!(a.state_dir, None);
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
    let e = parse_err(&["agent", "--server", "u", "--label", "zone"]);
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

#[test]
fn no_managed_network_takes_a_flag_or_a_boolish_environment_value() {
    let up = |args: &[&str]| match parse(args).unwrap().command {
        Command::Up(a) => a.no_managed_network,
        other => panic!("not up: {other:?}"),
    };
    assert!(!up(&["up"]));
    assert!(up(&["up", "--no-managed-network"]));
    // What the environment variable may hold (clap reads it through the
    // same parser): 1/0, true/false, yes/no.
    let parser = clap::builder::BoolishValueParser::new();
    let cmd = clap::Command::new("t");
    let arg = clap::Arg::new("x");
    for (text, want) in [
        ("1", true),
        ("true", true),
        ("yes", true),
        ("0", false),
        ("false", false),
    ] {
        let got = clap::builder::TypedValueParser::parse_ref(
            &parser,
            &cmd,
            Some(&arg),
            std::ffi::OsStr::new(text),
        )
        .unwrap();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn agent_joins_with_a_registration_token_once_and_keeps_a_state_dir() {
    let agent = |args: &[&str]| match parse(args).unwrap().command {
        Command::Agent(a) => a,
        other => panic!("not agent: {other:?}"),
    };
    let a = agent(&[
        "agent",
        "--server",
        "http://s",
        "--state-dir",
        "/var/lib/corral",
    ]);
    assert_eq!(a.state_dir, Some(PathBuf::from("/var/lib/corral")));
    // A restarted agent has its credential in the state dir: no token needed.
    if std::env::var_os("CORRAL_REGISTRATION_TOKEN").is_none() {
        assert_eq!(a.registration_token, None);
    }
    let e = parse_err(&["agent", "--server", "http://s", "--token", "t"]);
    assert!(e.contains("--token"), "the old flag is gone: {e}");
    assert!(parse_err(&["agent", "--server", "u", "--registration-token"]).contains("TOKEN"));
}

#[test]
fn env_verbs_parse_and_reject_bad_names_and_networks() {
    match parse(&["env", "create", "staging", "--network", "10.50.0.0/16"])
        .unwrap()
        .command
    {
        Command::Env(EnvCmd::Create(c)) => {
            assert_eq!(c.name, "staging");
            assert_eq!(c.network.as_deref(), Some("10.50.0.0/16"));
            assert_eq!(c.description, "");
        }
        other => panic!("{other:?}"),
    }
    match parse(&["env", "create", "x"]).unwrap().command {
        Command::Env(EnvCmd::Create(c)) => assert_eq!(c.network, None),
        other => panic!("{other:?}"),
    }
    for verb in ["deactivate", "activate", "rm"] {
        match parse(&["env", verb, "old"]).unwrap().command {
            Command::Env(EnvCmd::Deactivate(a) | EnvCmd::Activate(a) | EnvCmd::Rm(a)) => {
                assert_eq!(a.name, "old")
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["env", verb]).is_err(), "{verb} needs a name");
        assert!(parse_err(&["env", verb, "Old_1"]).contains("Old_1"));
    }
    match parse(&["env", "inspect", "prod", "-o", "json"])
        .unwrap()
        .command
    {
        Command::Env(EnvCmd::Inspect(i)) => assert_eq!(i.output, ObjectFormat::Json),
        other => panic!("{other:?}"),
    }
    match parse(&["env", "ls", "-o", "yaml"]).unwrap().command {
        Command::Env(EnvCmd::Ls(l)) => assert_eq!(l.output, Format::Yaml),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["env", "create"]).is_err());
    for bad in ["10.50.0.0/24", "10.50.0.1/16", "x"] {
        let e = parse_err(&["env", "create", "s", "--network", bad]);
        assert!(e.contains("--network") && e.contains(bad), "{e}");
    }
}

#[test]
fn the_environment_counts_as_given_only_from_the_flag_or_the_variable() {
    let cli = Cli::try_parse_from_args(["corral", "catalog", "sources"]).unwrap();
    assert!(!cli.environment_given || std::env::var_os("CORRAL_ENVIRONMENT").is_some());
    let cli = Cli::try_parse_from_args(["corral", "-E", "dev", "catalog", "sources"]).unwrap();
    assert!(cli.environment_given);
    assert_eq!(cli.environment, "dev");
}
