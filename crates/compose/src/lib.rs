//! Reads docker-compose files (versions 1, 2.x, 3.x and the Compose
//! Specification) and Rancher 1.x rancher-compose files into Corral
//! [`ServiceSpec`]s, and writes services back as compose files.
//!
//! Every error and warning names the file, the 1-based line and the dotted
//! key it is about (`docker-compose.yml:12: services.web.ports[2]: ...`).
//! See the crate's README.md for the table of supported, warned and
//! rejected keys.

use std::collections::{BTreeMap, BTreeSet};

use corral_types::{ServiceSpec, SourceFile};

mod catalog_meta;
mod configs;
mod ctx;
mod deploy;
mod envfile;
mod error;
mod export;
mod export_types;
mod files;
mod health;
mod interpolate;
mod lb;
mod lb_legacy;
mod load;
mod merge;
mod names;
mod ports;
mod rancher;
mod secrets;
mod service;
mod sidekick;
mod units;
mod value;
mod volumes;
mod yaml;

pub use catalog_meta::catalog_meta;
pub use envfile::parse_env_file;
pub use error::{ComposeError, Diagnostic};
pub use files::{FileSource, StackFile};

/// Where a stack's secret gets its value.
pub type SecretSource = FileSource;
/// A secret declared at the top level of a compose file.
pub type StackSecret = StackFile;
/// A config declared at the top level of a compose file.
pub type StackConfig = StackFile;

/// The result of [`load`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Loaded {
    /// Services by their compose name (sidekicks folded into their primary).
    pub services: BTreeMap<String, ServiceSpec>,
    /// Named volumes declared or used (created with the stack).
    pub volumes: BTreeSet<String>,
    /// Networks declared at the top level.
    pub networks: BTreeSet<String>,
    /// Secrets declared at the top level, by their key in the file.
    pub secrets: BTreeMap<String, StackSecret>,
    /// Configs declared at the top level, by their key in the file.
    pub configs: BTreeMap<String, StackConfig>,
    /// Keys that were ignored or values that were adjusted.
    pub warnings: Vec<Diagnostic>,
}

/// Reads the files of a stack: `files[0]` is the docker-compose file; a
/// file whose name contains `rancher-compose`, or a later YAML file holding
/// only Rancher keys, is a rancher-compose overlay; other YAML files merge
/// over the first in order; files of other names are data (env files).
pub fn load(
    stack: &str,
    files: &[SourceFile],
    variables: &BTreeMap<String, String>,
) -> Result<Loaded, ComposeError> {
    load::load(stack, files, variables)
}

/// Variable names the files use (`${NAME}`, `$NAME`), so a client can send
/// just those from its environment.
pub fn referenced_variables(files: &[SourceFile]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for f in files {
        interpolate::variable_names(&f.content, &mut names);
    }
    names
}

/// Writes services as a docker-compose.yml (Compose Specification form),
/// plus a rancher-compose.yml when a service has an HTTP or TCP health
/// check or is a load balancer. [`load`] reads them back to the same services.
pub fn export(
    stack: &str,
    services: &BTreeMap<String, ServiceSpec>,
    volumes: &BTreeSet<String>,
) -> Vec<SourceFile> {
    export::export(stack, services, volumes)
}
