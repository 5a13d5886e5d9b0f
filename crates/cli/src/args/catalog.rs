//! The arguments of `corral catalog ...` and `corral app ...`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ListArgs, parse_name};
use crate::output::Format;

#[derive(Debug, Subcommand)]
pub enum CatalogCmd {
    /// Add a catalog: a git repository of Rancher templates (global; with -E, the environment's own).
    Add(CatalogAddArgs),
    /// Remove catalogs (global; with -E, the environment's own).
    #[command(visible_alias = "remove")]
    Rm(CatalogRmArgs),
    /// Fetch catalogs now (every one you see, or those named) and show what each found.
    Refresh(CatalogRefreshArgs),
    /// List the catalog repositories: URL, branch, commit, last refresh, errors.
    Sources(ListArgs),
    /// List the templates of every catalog (one line per template).
    #[command(visible_alias = "list")]
    Ls(CatalogLsArgs),
    /// Show a template: README, versions and questions (TEMPLATE[:VERSION]).
    Show(CatalogShowArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CatalogAddArgs {
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// https://, ssh:// or user@host:path, git://, or file:// (global catalogs only).
    pub url: String,
    /// The branch to follow (the repository's default when not given).
    #[arg(long)]
    pub branch: Option<String>,
    /// A private https repository: the user name that goes with the
    /// password or token.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// Read the password or token (https) from standard input.
    #[arg(long, conflicts_with = "password_file")]
    pub password_stdin: bool,
    /// Read the password or token (https) from FILE.
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<std::path::PathBuf>,
    /// A private ssh repository: the (unencrypted) private key to use.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["password_stdin", "password_file"])]
    pub ssh_key: Option<std::path::PathBuf>,
    /// ssh: the host keys to trust, as known_hosts lines (`ssh-keyscan`
    /// prints them); without it the first key the host shows is kept.
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogRmArgs {
    #[arg(required = true, value_parser = parse_name)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogRefreshArgs {
    #[arg(value_parser = parse_name)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogLsArgs {
    /// Only templates of this category.
    #[arg(long)]
    pub category: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Clone, Args)]
pub struct CatalogShowArgs {
    /// `CATALOG/TEMPLATE` or `TEMPLATE`, optionally `:VERSION`.
    pub template: String,
    /// Output format: table prints the README and the questions.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

#[derive(Debug, Subcommand)]
pub enum AppCmd {
    /// Launch a catalog template as a stack, after checking the answers and showing the plan.
    Launch(AppLaunchArgs),
    /// List the stacks launched from templates, with "upgrade available" where one is.
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Upgrade a stack to a later version of its template (answers carried over).
    #[command(disable_version_flag = true)]
    Upgrade(AppUpgradeArgs),
    /// Return a stack to the version and answers before its last upgrade.
    Rollback(AppRollbackArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AppUpgradeArgs {
    /// The stack.
    #[arg(value_parser = parse_name)]
    pub stack: String,
    /// The version folder (the newest one that may replace the stack's when not given).
    #[arg(long)]
    pub version: Option<String>,
    /// An answer that changes (repeatable); the others are carried over.
    #[arg(short = 'a', long = "answer", value_name = "KEY=VALUE", value_parser = super::split_key_value)]
    pub answer: Vec<(String, String)>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AppRollbackArgs {
    #[arg(value_parser = parse_name)]
    pub stack: String,
}

#[derive(Debug, Clone, Args)]
pub struct AppLaunchArgs {
    /// `CATALOG/TEMPLATE` or `TEMPLATE`, optionally `:VERSION` (a version folder).
    pub template: String,
    /// The stack's name.
    #[arg(long, value_parser = parse_name)]
    pub name: String,
    /// Answers from a file: KEY=VALUE lines, or a JSON object.
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// An answer (repeatable); wins over the file's.
    #[arg(short = 'a', long = "answer", value_name = "KEY=VALUE", value_parser = super::split_key_value)]
    pub answer: Vec<(String, String)>,
    /// Show the plan and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}
