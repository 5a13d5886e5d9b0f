//! The arguments of `corral cert create|ls|rm`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{ListArgs, parse_name};

#[derive(Debug, Subcommand)]
pub enum CertCmd {
    /// Store a TLS certificate and its key for load balancers.
    Create(CertCreateArgs),
    /// List certificates (names, subject names and expiry; never the key).
    #[command(visible_alias = "list")]
    Ls(ListArgs),
    /// Remove certificates.
    #[command(visible_alias = "remove")]
    Rm(CertRmArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CertCreateArgs {
    /// Certificate name (what `corral lb create --cert` refers to).
    #[arg(value_parser = parse_name)]
    pub name: String,
    /// PEM file with the certificate first, then its intermediates.
    #[arg(long = "cert", value_name = "FILE")]
    pub cert_file: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    #[arg(long = "key", value_name = "FILE")]
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CertRmArgs {
    /// Certificate names.
    #[arg(required = true, value_parser = parse_name)]
    pub names: Vec<String>,
}
