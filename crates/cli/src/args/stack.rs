//! `corral stack ...`: deploy compose files as a stack, list, inspect,
//! export and remove stacks.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{InspectArgs, ListArgs, PsArgs, RmArgs, WaitArgs, parse_name};
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum StackCmd {
    /// Create or update a stack from compose files.
    Deploy(DeployArgs),
    /// List stacks.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// List the instances of every service of a stack.
    Ps(PsArgs),
    /// Show a stack object.
    Inspect(InspectArgs),
    /// Write compose files that deploy to the same stack again.
    Export(ExportArgs),
    /// Remove stacks and their services.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct DeployArgs {
    /// Stack name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Compose file (repeatable): docker-compose.yml first, then
    /// rancher-compose.yml [default: docker-compose.yml (or compose.yaml,
    /// compose.yml, docker-compose.yaml) and rancher-compose.yml, if present,
    /// in the current directory].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// File of KEY=VALUE variables; wins over the .env file next to the first
    /// compose file, and the shell's variables win over both.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Print what would be created, changed and removed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Output format: the plan as text (table), or the plan object.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    #[command(flatten)]
    pub wait: WaitArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Stack name.
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// Directory to write the files into [default: the current directory].
    #[arg(
        short = 'd',
        long = "dir",
        value_name = "DIR",
        conflicts_with = "stdout"
    )]
    pub dir: Option<PathBuf>,
    /// Overwrite files that already exist.
    #[arg(long, conflicts_with = "stdout")]
    pub force: bool,
    /// Print the files, each after a `# --- FILE ---` line, instead of writing them.
    #[arg(long)]
    pub stdout: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{Cli, Command};
    use crate::output::ObjectFormat;
    use clap::Parser;

    fn stack(args: &[&str]) -> Result<StackCmd, String> {
        let argv = ["corral", "stack"].into_iter().chain(args.iter().copied());
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Stack(cmd),
                ..
            }) => Ok(cmd),
            Ok(other) => Err(format!("not a stack verb: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn deploy(args: &[&str]) -> DeployArgs {
        let mut all = vec!["deploy"];
        all.extend_from_slice(args);
        match stack(&all) {
            Ok(StackCmd::Deploy(d)) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn deploy_takes_files_in_order_and_an_env_file() {
        let d = deploy(&[
            "app",
            "-f",
            "docker-compose.yml",
            "--file",
            "sub/rancher-compose.yml",
            "--env-file",
            "prod.env",
            "--dry-run",
            "-o",
            "json",
        ]);
        assert_eq!(d.name, "app");
        assert_eq!(
            d.files,
            [
                PathBuf::from("docker-compose.yml"),
                PathBuf::from("sub/rancher-compose.yml")
            ]
        );
        assert_eq!(d.env_file, Some(PathBuf::from("prod.env")));
        assert!(d.dry_run);
        assert_eq!(d.output, Format::Json);
    }

    #[test]
    fn deploy_defaults() {
        let d = deploy(&["app"]);
        assert!(d.files.is_empty() && d.env_file.is_none() && !d.dry_run);
        assert_eq!(d.output, Format::Table);
    }

    #[test]
    fn deploy_rejects_bad_input() {
        let e = stack(&["deploy"]).unwrap_err();
        assert!(e.contains("<NAME>"), "{e}");
        let e = stack(&["deploy", "My_App"]).unwrap_err();
        assert!(e.contains("My_App"), "{e}");
        let e = stack(&["deploy", "app", "-f"]).unwrap_err();
        assert!(e.contains("--file"), "{e}");
        let e = stack(&["deploy", "app", "-o", "xml"]).unwrap_err();
        assert!(e.contains("xml"), "{e}");
    }

    #[test]
    fn ls_ps_inspect_rm_parse() {
        assert!(matches!(stack(&["ls"]), Ok(StackCmd::Ls(_))));
        assert!(
            matches!(stack(&["list", "-o", "yaml"]), Ok(StackCmd::Ls(l)) if l.output == Format::Yaml)
        );
        assert!(matches!(stack(&["ps", "app"]), Ok(StackCmd::Ps(p)) if p.name == "app"));
        assert!(
            matches!(stack(&["inspect", "app"]), Ok(StackCmd::Inspect(i)) if i.output == ObjectFormat::Yaml)
        );
        assert!(matches!(stack(&["rm", "a", "b"]), Ok(StackCmd::Rm(r)) if r.names == ["a", "b"]));
        assert!(stack(&["rm"]).is_err());
        assert!(stack(&["ps"]).is_err());
        assert!(stack(&["inspect", "app", "-o", "table"]).is_err());
    }

    #[test]
    fn export_flags() {
        match stack(&["export", "app", "-d", "out", "--force"]) {
            Ok(StackCmd::Export(x)) => {
                assert_eq!(x.dir, Some(PathBuf::from("out")));
                assert!(x.force && !x.stdout);
            }
            other => panic!("{other:?}"),
        }
        match stack(&["export", "app", "--stdout"]) {
            Ok(StackCmd::Export(x)) => assert!(x.stdout && x.dir.is_none()),
            other => panic!("{other:?}"),
        }
        let e = stack(&["export", "app", "--stdout", "-d", "x"]).unwrap_err();
        assert!(e.contains("--stdout") && e.contains("--dir"), "{e}");
        assert!(stack(&["export", "app", "--stdout", "--force"]).is_err());
    }
}
