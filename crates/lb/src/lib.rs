//! Corral's load balancer, run by the agent for every load-balancer
//! instance placed on its node.
//!
//! It listens on the source ports of an [`LbConfig`](corral_types::LbConfig)
//! and forwards to the serving instances of the target services, as seen in
//! the agent's live [`EnvSnapshot`](corral_netview::EnvSnapshot):
//!
//! - `tcp`: spliced to a backend picked round robin;
//! - `http`: HTTP/1.1 with keep-alive on both sides, routed by Host (exact
//!   or `*.example.com`) and path prefix, lowest priority number first, then
//!   the most specific rule; `X-Forwarded-For`/`-Proto`/`-Port` and
//!   `X-Real-IP` set from the peer (a client's own only when the config
//!   trusts them); sticky
//!   sessions by cookie; 503 when nothing serves;
//! - `https` / `tls`: TLS terminated with the certificate chosen by SNI (or
//!   the default one), then as `http` / `tcp`.
//!
//! An instance that stops serving (removing, unhealthy, gone) gets no new
//! requests at once and its idle pooled connections are closed; requests in
//! flight finish. A backend that cannot be reached is replaced by another,
//! up to three tries. Each listener serves at most
//! [`MAX_CONNECTIONS_PER_LISTENER`] connections; a client silent mid-request
//! and a silent splice are closed ([`LbLimits`]). See the crate's README.md.
//!
//! - `runtime`: [`LbRuntime::start`], [`LbHandle`] (update, stop), listeners.
//! - `table`: the routing table rebuilt from config and snapshot.
//! - `backend`: one backend and its connection pool.
//! - `http`, `tcp`: the proxying; `exchange`: one HTTP request on one
//!   backend connection; `h1`: HTTP/1 heads (httparse); `body`: bodies
//!   moved as they come. `tls`: certificates and SNI.
//! - `limits`: [`LbLimits`] and the splice's activity.

mod backend;
mod body;
mod exchange;
mod h1;
mod http;
mod limits;
mod runtime;
mod table;
mod tcp;
mod tls;

pub use limits::{
    BODY_IDLE_TIMEOUT, HEADER_READ_TIMEOUT, LbLimits, MAX_CONNECTIONS_PER_LISTENER,
    TCP_IDLE_TIMEOUT,
};
pub use runtime::{DRAIN_TIMEOUT, LbError, LbHandle, LbRuntime};
pub use tls::{TlsError, TlsMaterial};
