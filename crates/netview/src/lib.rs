//! An agent's live view of its whole environment: every node, stack,
//! service and instance, kept current by list-then-watch and published as
//! an immutable [`EnvSnapshot`] through a `tokio::sync::watch` channel.
//!
//! The internal DNS server, the load balancers and the metadata service all
//! read the same snapshots: each builds its own index from a snapshot when
//! [`EnvSnapshot::revision`] changes.
//!
//! - `snapshot`: the snapshot and the helpers every reader needs (short
//!   service names, healthy instances).
//! - `follow`: the list-then-watch loops that keep it current.

mod follow;
mod snapshot;

pub use follow::{FollowOptions, follow_environment};
pub use snapshot::{EnvSnapshot, InstanceView, is_serving, service_short_name};
