//! The metadata service: what Rancher 1.x's `rancher-metadata` answered
//! containers at `http://169.254.169.250/` (also `rancher-metadata` and
//! `metadata`), so existing scripts and confd templates keep working.
//!
//! Each agent runs one, fed by its live view of the environment
//! (`corral_netview`). From every snapshot with a new revision it builds a
//! [`MetadataTree`]; each request walks that tree along its path, with
//! `self` chosen by the caller's source address, and renders the subtree as
//! plain text or JSON. See the crate's README for paths, fields, formats
//! and long polling.
//!
//! - `node`: the tree's values (subtrees shared through `Arc`).
//! - `fields`: the fields of a container, service, stack and host.
//! - `tree`: the tree of one snapshot and each caller's view of it.
//! - `answer`: walking a path and rendering text or JSON (pure).
//! - `poll`: the long-poll parameters.
//! - `http`: the HTTP server (axum routes on hyper connections).

mod answer;
mod fields;
mod http;
mod node;
mod poll;
mod tree;

pub use answer::{Answer, NotFound, answer, render, text};
pub use fields::port_string;
pub use http::{
    HEADER_READ_TIMEOUT, MAX_CONNECTIONS, MetadataConfig, MetadataError, serve, serve_with,
};
pub use node::Node;
pub use poll::{MAX_WAIT, PollParamError};
pub use tree::{MetadataTree, VERSIONS};

/// The address containers reach the metadata service at (Rancher's).
pub const METADATA_ADDRESS: &str = "169.254.169.250";

/// The DNS names of the metadata service.
pub const METADATA_NAMES: [&str; 2] = ["rancher-metadata", "metadata"];

#[cfg(test)]
mod fixture;
#[cfg(test)]
mod http_tests;
