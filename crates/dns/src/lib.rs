//! Corral's internal DNS server: one per node, answering the names of the
//! environment's containers from the agent's live view
//! ([`corral_netview::EnvSnapshot`]) and forwarding every other name to the
//! host's resolvers. See the crate's README for the names and rules.
//!
//! - `index`: the pure name index, [`Index::build`] and [`Index::resolve`].
//! - `wire`: reading queries and writing responses (`hickory-proto`).
//! - `access`: who is answered, and how many forwards a client may have.
//! - `handler`: one query to one decision (answer, forward, drop).
//! - `forward`: the upstream exchange over UDP and TCP.
//! - `relay`: which upstream answers reach the client, and at what size.
//! - `server`: sockets, workers and the index swap ([`serve`]).
//! - `resolv`: the host's resolvers from a resolv.conf.

mod access;
mod forward;
mod handler;
mod index;
mod relay;
mod resolv;
mod server;
mod wire;

#[cfg(test)]
mod testkit;

pub use access::MAX_FORWARDS_PER_CLIENT;
pub use forward::ForwardError;
pub use handler::TTL_SECS;
pub use index::{Answer, INTERNAL_SUFFIX, Index, METADATA_ADDRESS};
pub use resolv::{host_resolvers, parse_resolv_conf};
pub use server::{DnsConfig, DnsError, DnsServer, MAX_FORWARDS, serve};
pub use wire::WireError;
