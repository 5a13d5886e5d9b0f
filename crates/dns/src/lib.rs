//! Corral's internal DNS server: one per node, answering the names of the
//! environment's containers from the agent's live view
//! ([`corral_netview::EnvSnapshot`]) and forwarding every other name to the
//! host's resolvers. See the crate's README for the names and rules.
//!
//! - `index`: the pure name index, [`Index::build`] and [`Index::resolve`].
//! - `wire`: reading queries and writing responses (`hickory-proto`).
//! - `handler`: one query to one decision (answer, forward, drop).
//! - `forward`: the upstream exchange over UDP and TCP.
//! - `server`: sockets, workers and the index swap ([`serve`]).
//! - `resolv`: the host's resolvers from a resolv.conf.

mod forward;
mod handler;
mod index;
mod resolv;
mod server;
mod wire;

#[cfg(test)]
mod testkit;

pub use forward::ForwardError;
pub use handler::TTL_SECS;
pub use index::{Answer, INTERNAL_SUFFIX, Index, METADATA_ADDRESS};
pub use resolv::{host_resolvers, parse_resolv_conf};
pub use server::{DnsConfig, DnsError, DnsServer, MAX_FORWARDS, serve};
pub use wire::WireError;
