//! `corral service create NAME --image IMAGE ...`.

use corral_api::Client;
use corral_types::{Kind, Object, Resources, Service, ServiceSpec, validate_name};

use crate::args::CreateArgs;
use crate::errors::object_error;
use crate::output::print;

pub(super) async fn run(client: &Client, env: &str, args: &CreateArgs) -> anyhow::Result<()> {
    let service = build_service(env, args)?;
    let created = client
        .create(&service)
        .await
        .map_err(|e| object_error(e, "create", "service", env, &args.name))?;
    print(&format!("{}\n", created.meta.name))
}

/// The service object the flags describe, checked as the server would check it.
pub(super) fn build_service(env: &str, args: &CreateArgs) -> anyhow::Result<Service> {
    validate_name("service name", &args.name)?;
    let mut env_vars = std::collections::BTreeMap::new();
    for (k, v) in &args.env {
        if env_vars.insert(k.clone(), v.clone()).is_some() {
            anyhow::bail!("-e {k}=...: {k:?} is given more than once");
        }
    }
    let labels: std::collections::BTreeMap<String, String> = args.labels.iter().cloned().collect();
    let spec = ServiceSpec {
        image: args.image.clone(),
        command: args.command.clone(),
        env: env_vars,
        ports: args.ports.clone(),
        scale: args.scale,
        restart: args.restart,
        resources: Resources {
            cpu_millis: args.cpu_millis.unwrap_or(0),
            memory_bytes: args.memory_bytes.unwrap_or(0),
        },
        container_labels: labels.clone(),
        secrets: args.secrets.clone(),
        configs: args.configs.clone(),
        ..ServiceSpec::default()
    };
    spec.validate()
        .map_err(|e| anyhow::anyhow!("invalid service {:?}: {e}", args.name))?;
    let mut service: Service = Object::new(Kind::Service, env, &args.name, spec);
    service.meta.labels = labels;
    Ok(service)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command, ServiceCmd};
    use clap::Parser;
    use corral_types::{Protocol, RestartPolicy};

    fn args(extra: &[&str]) -> CreateArgs {
        let argv = ["corral", "service", "create"]
            .into_iter()
            .chain(extra.iter().copied());
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Service(ServiceCmd::Create(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn secret_flags_mount_secrets_short_or_long_and_bad_ones_are_refused() {
        let a = args(&[
            "db",
            "--image",
            "mariadb",
            "--secret",
            "db_password",
            "--secret",
            "source=api-key,target=/etc/api.key,uid=103,gid=103,mode=0440",
        ]);
        let s = build_service("prod", &a).unwrap();
        let m = &s.spec.secrets;
        assert_eq!(m[0].container_path(), "/run/secrets/db_password");
        assert_eq!(m[1].container_path(), "/etc/api.key");
        assert_eq!(
            (m[1].uid, m[1].gid, m[1].mode),
            (Some(103), Some(103), Some(0o440))
        );
        for bad in [
            "a/b",
            "target=/x",
            "source=x,mode=9",
            "source=x,owner=1",
            "source=x,target=../../etc/passwd",
        ] {
            let argv = [
                "corral", "service", "create", "w", "--image", "i", "--secret", bad,
            ];
            assert!(Cli::try_parse_from(argv).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn config_flags_mount_configs_at_absolute_paths_and_bad_ones_are_refused() {
        let a = args(&[
            "web",
            "--image",
            "nginx",
            "--config",
            "nginx.conf",
            "--config",
            "source=site,target=/usr/share/nginx/html/index.html,mode=0440",
        ]);
        let s = build_service("prod", &a).unwrap();
        let m = &s.spec.configs;
        assert_eq!(m[0].container_path(), "/nginx.conf");
        assert_eq!(m[1].container_path(), "/usr/share/nginx/html/index.html");
        assert_eq!(m[1].mode, Some(0o440));
        for bad in [
            "source=x,target=etc/x.conf",
            "source=x,target=/etc/../x",
            "source=x,mode=9",
            "a/b",
        ] {
            let argv = [
                "corral", "service", "create", "w", "--image", "i", "--config", bad,
            ];
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(err.contains("--config"), "{bad}: {err}");
        }
    }

    #[test]
    fn flags_become_the_service_object() {
        let a = args(&[
            "web",
            "--image",
            "nginx",
            "--scale",
            "2",
            "-p",
            "8080:80",
            "-e",
            "A=1",
            "-l",
            "tier=front",
            "--restart",
            "never",
            "--cpus",
            "1.5",
            "--memory",
            "1g",
            "--",
            "nginx",
            "-g",
            "daemon off;",
        ]);
        let s = build_service("prod", &a).unwrap();
        assert_eq!(s.kind, Kind::Service);
        assert_eq!(
            (s.meta.environment.as_str(), s.meta.name.as_str()),
            ("prod", "web")
        );
        assert_eq!(s.spec.image, "nginx");
        assert_eq!(s.spec.scale, 2);
        assert_eq!(s.spec.ports[0].host_port, 8080);
        assert_eq!(s.spec.ports[0].protocol, Protocol::Tcp);
        assert_eq!(s.spec.env.get("A").map(String::as_str), Some("1"));
        assert_eq!(s.spec.restart, RestartPolicy::Never);
        assert_eq!(s.spec.resources.cpu_millis, 1500);
        assert_eq!(s.spec.resources.memory_bytes, 1 << 30);
        assert_eq!(s.spec.command, vec!["nginx", "-g", "daemon off;"]);
    }

    #[test]
    fn labels_go_to_the_service_and_its_containers() {
        let s = build_service(
            "default",
            &args(&["web", "--image", "i", "-l", "a=1", "-l", "b=2"]),
        )
        .unwrap();
        assert_eq!(s.meta.labels.len(), 2);
        assert_eq!(s.meta.labels, s.spec.container_labels);
    }

    #[test]
    fn spec_is_validated_before_sending() {
        let e = build_service(
            "default",
            &args(&["web", "--image", "i", "-p", "80:80", "-p", "80:81"]),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("spec.ports[1].host_port") && e.contains(r#""web""#),
            "{e}"
        );
        let e = build_service(
            "default",
            &args(&["web", "--image", "i", "-l", "io.corral.service=x"]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("io.corral."), "{e}");
        let e = build_service("default", &args(&["web", "--image", "bad image"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("spec.image"), "{e}");
        let e = build_service(
            "default",
            &args(&["web", "--image", "i", "--scale", "10001"]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("spec.scale"), "{e}");
    }

    #[test]
    fn a_repeated_env_var_is_an_error() {
        let e = build_service(
            "default",
            &args(&["web", "--image", "i", "-e", "A=1", "-e", "A=2"]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("-e A=") && e.contains("more than once"), "{e}");
    }
}
